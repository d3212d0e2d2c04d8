package handler_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/drswatch/drswatch/handler"
	"github.com/drswatch/drswatch/internal/testenv"
)

// functionJSON is the part of a function.json the host reads for us.
type functionJSON struct {
	Bindings []struct {
		Type        string `json:"type"`
		Direction   string `json:"direction"`
		Name        string `json:"name"`
		Cardinality string `json:"cardinality"`
		DataType    string `json:"dataType"`
	} `json:"bindings"`
	Retry *struct {
		Strategy        string `json:"strategy"`
		MaxRetryCount   *int   `json:"maxRetryCount"`
		MinimumInterval string `json:"minimumInterval"`
		MaximumInterval string `json:"maximumInterval"`
	} `json:"retry"`
}

func readFunctionJSON(t *testing.T, function string) functionJSON {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", function, "function.json"))
	require.NoError(t, err)
	var f functionJSON
	require.NoError(t, json.Unmarshal(b, &f))
	require.Len(t, f.Bindings, 1, "%s has one trigger binding", function)
	return f
}

// TestFunctionJSONIsTheContractTheHandlerReads pins what the handler
// relies on, each from functions-host-contract.md:
//   - dataType "string" and cardinality "many": Data.events is a JSON string
//     holding an array of body strings. With "binary" every body would arrive
//     base64 and count as not_json; with no dataType the host parses and
//     re-serialises each body, and one body that is not JSON fails the whole
//     batch before the handler sees it ("The request").
//   - maxRetryCount -1: after its last retry the Event Hubs listener
//     checkpoints a failed batch anyway, so any finite count loses batches in
//     an outage longer than the retries; -1 retries without end ("The
//     answer").
func TestFunctionJSONIsTheContractTheHandlerReads(t *testing.T) {
	f := readFunctionJSON(t, handler.FunctionSignIns)
	b := f.Bindings[0]
	require.Equal(t, "eventHubTrigger", b.Type)
	require.Equal(t, "in", b.Direction)
	require.Equal(t, handler.BindingEvents, b.Name, "the handler reads Data.%s", handler.BindingEvents)
	require.Equal(t, "many", b.Cardinality)
	require.Equal(t, "string", b.DataType)
	require.NotNil(t, f.Retry, "a retry policy, or a failed batch is checkpointed at once")
	require.Equal(t, "exponentialBackoff", f.Retry.Strategy)
	require.NotNil(t, f.Retry.MaxRetryCount)
	require.Equal(t, -1, *f.Retry.MaxRetryCount, "retry without end")

	s := readFunctionJSON(t, handler.FunctionSweep)
	require.Equal(t, "timerTrigger", s.Bindings[0].Type)
}

// TestDeadLetterAlertRuleReadsTheLogLine: the dead-letter alert rule
// (infra/bicep/modules/health.bicep) selects the handler's line by its msg;
// renaming the message would silence the rule.
func TestDeadLetterAlertRuleReadsTheLogLine(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "infra", "bicep", "modules", "health.bicep"))
	require.NoError(t, err)
	require.Contains(t, string(b), `tostring(line.msg) == "dead-lettered"`)
	require.Contains(t, string(b), `"Host.Function.Console"`, "the category the host logs console lines under")

	logs := &testenv.LogBuffer{}
	h := handler.New(&recordingProcessor{}, slog.New(slog.NewJSONHandler(logs, nil)), handler.Options{DeadLetters: &testenv.DeadLetters{}})
	code, _ := testenv.Invoke(t, h, handler.FunctionSignIns, []byte("not json"))
	require.Equal(t, http.StatusOK, code)
	require.Len(t, logs.Lines(t, "dead-lettered"), 1)
}
