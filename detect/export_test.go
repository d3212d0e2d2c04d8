package detect

// ReferenceDecodeRecord and ReferenceSplitBody are the references of
// ref_test.go, for this package's external benchmarks: the baseline the
// fast paths are measured against.
var ReferenceDecodeRecord = decodeRecordRef

// ReferenceSplitBody calls fn with each record of body, as splitBodyRef
// finds them, and returns how many there were.
func ReferenceSplitBody(body []byte, fn func(raw []byte)) int {
	recs := splitBodyRef(body)
	for _, r := range recs {
		fn(r)
	}
	return len(recs)
}
