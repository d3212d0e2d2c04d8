package memstore_test

import (
	"testing"

	"github.com/drswatch/drswatch/store/memstore"
	"github.com/drswatch/drswatch/store/storetest"
)

var _ storetest.Store = (*memstore.Store)(nil)

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store { return memstore.New() })
}
