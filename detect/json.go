package detect

import (
	"bytes"
)

// node is a parsed JSON value as Elastic's pipeline sees it (parseRecord
// builds it). Objects are stored with their keys already renamed to snake
// case; when two keys rename to the same name, the later one wins, as in
// the pipeline's map.
type node struct {
	kind  nodeKind
	str   string          // kindString; kindNumber holds the literal
	obj   map[string]node // kindObject, keys renamed
	arr   []node          // kindArray
	truth bool            // kindBool
}

type nodeKind uint8

const (
	kindNull nodeKind = iota
	kindString
	kindNumber
	kindBool
	kindObject
	kindArray
)

// snakeKey renames a key the way the pipeline's script does: wherever a
// lower-case ASCII letter is followed by a run of upper-case ASCII letters, an
// underscore goes between them; then the key is lower-cased (ASCII and
// Unicode, as Java's toLowerCase).
func snakeKey(k string) string {
	needs := false
	for i := 0; i < len(k); i++ {
		if c := k[i]; c >= 'A' && c <= 'Z' || c >= 0x80 {
			needs = true
			break
		}
	}
	if !needs {
		return k
	}
	var b []byte
	for i := 0; i < len(k); i++ {
		c := k[i]
		b = append(b, c)
		if c >= 'a' && c <= 'z' && i+1 < len(k) && isUpper(k[i+1]) {
			b = append(b, '_')
			for i+1 < len(k) && isUpper(k[i+1]) {
				i++
				b = append(b, k[i])
			}
		}
	}
	return string(bytes.ToLower(b))
}

func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }

// get walks a path of renamed keys. It returns the zero node (kindNull) when
// any step is missing or not an object.
func (n node) get(path ...string) node {
	cur := n
	for _, p := range path {
		if cur.kind != kindObject {
			return node{}
		}
		next, ok := cur.obj[p]
		if !ok {
			return node{}
		}
		cur = next
	}
	return cur
}

// empty reports whether the pipeline's last step would drop the value: null,
// the empty string, or an object or array that is empty once its own empty
// members are dropped.
func (n node) empty() bool {
	switch n.kind {
	case kindNull:
		return true
	case kindString:
		return n.str == ""
	case kindObject:
		for _, v := range n.obj {
			if !v.empty() {
				return false
			}
		}
		return true
	case kindArray:
		for _, v := range n.arr {
			if !v.empty() {
				return false
			}
		}
		return true
	}
	return false
}
