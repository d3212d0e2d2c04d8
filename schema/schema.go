// Package schema holds the one declaration of the drswatch alerts table
// (schema/alerts.json, embedded) and checks encoded alert rows against it.
//
// The same file is read by the Bicep deployment (loadJsonContent) to declare
// the DCR stream and the custom table, so the Go encoder, the tests and the
// deployed table cannot drift apart. Column names are a public contract: do
// not rename them.
package schema

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

//go:embed alerts.json
var raw []byte

// Table and Stream name the custom Log Analytics table and the DCR stream
// declaration. They must equal the "table" and "stream" fields of
// alerts.json; the package panics at init if they do not.
const (
	Table  = "DrsWatchAlerts_CL"
	Stream = "Custom-DrsWatchAlerts"
)

// Column types, in the DCR stream declaration vocabulary.
const (
	TypeString   = "string"
	TypeInt      = "int"
	TypeLong     = "long"
	TypeReal     = "real"
	TypeBoolean  = "boolean"
	TypeDynamic  = "dynamic"
	TypeDatetime = "datetime"
)

// TimeGenerated is the column every row must carry.
const TimeGenerated = "TimeGenerated"

// Column is one declared column of the alerts table.
type Column struct {
	Name        string `json:"name"`
	Type        string `json:"type"`
	Description string `json:"description"`
}

type declaration struct {
	Table   string   `json:"table"`
	Stream  string   `json:"stream"`
	Columns []Column `json:"columns"`
}

var (
	decl    declaration
	byName  map[string]Column
	typeSet = []string{TypeString, TypeInt, TypeLong, TypeReal, TypeBoolean, TypeDynamic, TypeDatetime}
)

func init() {
	d, err := parse(raw)
	if err != nil {
		panic("schema: embedded alerts.json: " + err.Error())
	}
	decl = d
	byName = make(map[string]Column, len(d.Columns))
	for _, c := range d.Columns {
		byName[c.Name] = c
	}
}

// parse decodes and checks a declaration.
func parse(b []byte) (declaration, error) {
	var d declaration
	if err := json.Unmarshal(b, &d); err != nil {
		return d, err
	}
	if d.Table != Table {
		return d, fmt.Errorf("table is %q, the Go constant is %q", d.Table, Table)
	}
	if d.Stream != Stream {
		return d, fmt.Errorf("stream is %q, the Go constant is %q", d.Stream, Stream)
	}
	seen := make(map[string]bool, len(d.Columns))
	for _, c := range d.Columns {
		if c.Name == "" {
			return d, errors.New("column with an empty name")
		}
		if seen[c.Name] {
			return d, fmt.Errorf("column %q declared twice", c.Name)
		}
		seen[c.Name] = true
		if !slices.Contains(typeSet, c.Type) {
			return d, fmt.Errorf("column %q has unknown type %q", c.Name, c.Type)
		}
	}
	if !seen[TimeGenerated] {
		return d, fmt.Errorf("no %s column", TimeGenerated)
	}
	return d, nil
}

// Raw returns a copy of alerts.json as embedded.
func Raw() []byte { return bytes.Clone(raw) }

// Columns returns the declared columns in declaration order. The slice is a
// copy; changing it does not change the declaration.
func Columns() []Column { return slices.Clone(decl.Columns) }

// ValidateRow checks that row is one JSON object shaped like the declaration:
// every property is a declared column, each value has the column's type, and
// TimeGenerated is present. Types are checked as follows:
//
//   - datetime: a string that time.RFC3339Nano parses;
//   - int, long: a JSON integer (no fraction or exponent) within int32 or
//     int64;
//   - real: any JSON number;
//   - boolean: true or false;
//   - string: a JSON string;
//   - dynamic: any JSON value, arrays and objects included.
//
// null is accepted for every column except TimeGenerated (a nil slice encodes
// as null, and the table stores an empty value). The error lists every
// problem found, in column-name order; it is nil when the row is valid.
func ValidateRow(row []byte) error {
	dec := json.NewDecoder(bytes.NewReader(row))
	var obj map[string]json.RawMessage
	if err := dec.Decode(&obj); err != nil {
		return fmt.Errorf("row is not a JSON object: %w", err)
	}
	if obj == nil {
		return errors.New("row is not a JSON object: null")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("row has data after the JSON object")
	}
	var errs []error
	if _, ok := obj[TimeGenerated]; !ok {
		errs = append(errs, fmt.Errorf("%s is missing", TimeGenerated))
	}
	names := make([]string, 0, len(obj))
	for name := range obj {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		col, ok := byName[name]
		if !ok {
			errs = append(errs, fmt.Errorf("%s is not a declared column", name))
			continue
		}
		if err := checkValue(col, obj[name]); err != nil {
			errs = append(errs, fmt.Errorf("%s (%s): %w", name, col.Type, err))
		}
	}
	return errors.Join(errs...)
}

func checkValue(col Column, v json.RawMessage) error {
	v = bytes.TrimSpace(v)
	if string(v) == "null" {
		if col.Name == TimeGenerated {
			return errors.New("is null")
		}
		return nil
	}
	kind := jsonKind(v)
	switch col.Type {
	case TypeDynamic:
		return nil
	case TypeString:
		if kind != "string" {
			return fmt.Errorf("got a JSON %s", kind)
		}
	case TypeBoolean:
		if kind != "boolean" {
			return fmt.Errorf("got a JSON %s", kind)
		}
	case TypeReal:
		if kind != "number" {
			return fmt.Errorf("got a JSON %s", kind)
		}
	case TypeInt, TypeLong:
		if kind != "number" {
			return fmt.Errorf("got a JSON %s", kind)
		}
		if strings.ContainsAny(string(v), ".eE") {
			return fmt.Errorf("%s is not an integer", v)
		}
		bits := 64
		if col.Type == TypeInt {
			bits = 32
		}
		if _, err := strconv.ParseInt(string(v), 10, bits); err != nil {
			return fmt.Errorf("%s is out of range", v)
		}
	case TypeDatetime:
		if kind != "string" {
			return fmt.Errorf("got a JSON %s", kind)
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return err
		}
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			return fmt.Errorf("%q is not an RFC 3339 time", s)
		}
	default:
		return fmt.Errorf("unknown column type %q", col.Type)
	}
	return nil
}

// jsonKind names the kind of a syntactically valid JSON value by its first
// byte.
func jsonKind(v json.RawMessage) string {
	if len(v) == 0 {
		return "nothing"
	}
	switch c := v[0]; {
	case c == '"':
		return "string"
	case c == '{':
		return "object"
	case c == '[':
		return "array"
	case c == 't' || c == 'f':
		return "boolean"
	case c == '-' || (c >= '0' && c <= '9'):
		return "number"
	}
	return "value"
}
