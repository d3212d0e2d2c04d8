package detect

import (
	"bytes"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/drswatch/drswatch/store"
)

// FuzzGroupState feeds arbitrary bytes to UnmarshalBinary. What it accepts
// keeps the invariants Merge relies on (lists sorted, distinct, below their
// bound and within budget), survives a round trip, and still encodes under
// store.MaxStateBytes after a merge.
func FuzzGroupState(f *testing.F) {
	v1, err := os.ReadFile("testdata/group-state-v1.json")
	require.NoError(f, err)
	f.Add(bytes.TrimSpace(v1))
	g := NewGroup(Key{UPN: "u@x", SessionID: "s"})
	for _, v := range []string{"b", "a", `"q"`, "\u2028"} {
		g.addValue(ColUserAgents, v)
	}
	g.Over[ColBrowsers] = "zz"
	g.Cut.add(ColBrowsers)
	v2, err := g.MarshalBinary()
	require.NoError(f, err)
	f.Add(v2)
	f.Add([]byte(`{"v":2,"x":{"Browsers":["a","b"]},"c":{"Browsers":"c"},"t":["Browsers"],"g":3}`))
	f.Add([]byte(`{"v":1,"x":{"25":["a"],"99":["x"]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var g Group
		if g.UnmarshalBinary(b) != nil {
			return
		}
		for c := range numColumns {
			vs := g.Values[c]
			for i, v := range vs {
				require.NotEmpty(t, v)
				require.True(t, i == 0 || vs[i-1] < v, "column %s not sorted", c)
				require.True(t, g.Over[c] == "" || v < g.Over[c], "column %s: value at or above its bound", c)
			}
			require.LessOrEqual(t, len(listJSON(t, vs)), ListBudget(c), "column %s over budget", c)
			require.Equal(t, len(listJSON(t, vs)), g.listBytes(c), "column %s: tracked size", c)
		}
		out, err := g.MarshalBinary()
		require.NoError(t, err)
		var back Group
		require.NoError(t, back.UnmarshalBinary(out))
		require.Equal(t, g, back)
		rec := Record{ID: "fuzz", SourceAddress: "192.0.2.1", UserAgent: "agent", Browser: "Edge 1"}
		g.Merge(rec, nil)
		out, err = g.MarshalBinary()
		require.NoError(t, err)
		require.LessOrEqual(t, len(out), store.MaxStateBytes+len(b))
	})
}
