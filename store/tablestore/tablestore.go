package tablestore

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"regexp"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/drswatch/drswatch/store"
	"github.com/drswatch/drswatch/store/internal/rules"
)

// Options configures a Store.
type Options struct {
	// ClientOptions are passed to the aztables client (transport, retries,
	// cloud). The store adds its own call-counting policy.
	ClientOptions azcore.ClientOptions
}

// Store is a window-state and outbox store in one Azure table. It is safe for
// concurrent use.
type Store struct {
	client *aztables.Client
	table  string
	reads  atomic.Int64
	writes atomic.Int64
}

// NewFromConnectionString returns a Store for table with a connection string
// (account key or SAS; for Azurite include TableEndpoint). It sends nothing:
// the table must exist, or be made with CreateTable.
func NewFromConnectionString(conn, table string, opts *Options) (*Store, error) {
	s := &Store{table: table}
	svc, err := aztables.NewServiceClientFromConnectionString(conn, s.clientOptions(opts))
	if err != nil {
		return nil, fmt.Errorf("tablestore: open %s: %w", table, err)
	}
	s.client = svc.NewClient(table)
	return s, nil
}

// New returns a Store for table at serviceURL
// (https://<account>.table.core.windows.net) with a token credential, such
// as azidentity.DefaultAzureCredential for a managed identity. It sends
// nothing: in Azure the table is made by the deployment.
func New(serviceURL, table string, cred azcore.TokenCredential, opts *Options) (*Store, error) {
	s := &Store{table: table}
	svc, err := aztables.NewServiceClient(serviceURL, cred, s.clientOptions(opts))
	if err != nil {
		return nil, fmt.Errorf("tablestore: open %s: %w", table, err)
	}
	s.client = svc.NewClient(table)
	return s, nil
}

func (s *Store) clientOptions(opts *Options) *aztables.ClientOptions {
	var co azcore.ClientOptions
	if opts != nil {
		co = opts.ClientOptions
	}
	co.PerRetryPolicies = append([]policy.Policy{countPolicy{s}}, co.PerRetryPolicies...)
	return &aztables.ClientOptions{ClientOptions: co}
}

// CreateTable creates the store's table if it does not exist; an existing
// table is not an error. It is for where drswatch owns the table (replay,
// tests, local runs against Azurite); in Azure the deployment makes the
// table and the app's role is scoped to it.
func (s *Store) CreateTable(ctx context.Context) error {
	_, err := s.client.CreateTable(ctx, nil)
	var re *azcore.ResponseError
	if errors.As(err, &re) && re.ErrorCode == string(aztables.TableAlreadyExists) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("tablestore: create table %s: %w", s.table, err)
	}
	return nil
}

// countPolicy counts every HTTP request sent, retries included: GETs as
// reads, everything else (including a transaction) as one write.
type countPolicy struct{ s *Store }

func (c countPolicy) Do(req *policy.Request) (*http.Response, error) {
	if req.Raw().Method == http.MethodGet {
		c.s.reads.Add(1)
	} else {
		c.s.writes.Add(1)
	}
	return req.Next()
}

// Calls returns how many read and write requests the store has sent to the
// service, including any table creation and retries.
func (s *Store) Calls() (reads, writes int64) {
	return s.reads.Load(), s.writes.Load()
}

// Keys.

func partitionKey(id string, window time.Time) string {
	return fmt.Sprintf("%012d-%s", window.Unix(), id[:1])
}

func groupRowKey(id string) string { return "g" + id }

func pendingRowKey(id string, rev int) string { return fmt.Sprintf("o%s-%010d", id, rev) }

// Entities.

const (
	chunkSize  = 64 << 10
	timeLayout = "2006-01-02T15:04:05.0000000Z"
)

func tableTime(t time.Time) aztables.EDMDateTime {
	if t.IsZero() {
		return aztables.EDMDateTime(rules.MinTime())
	}
	return aztables.EDMDateTime(rules.Time(t))
}

func putChunks(props map[string]any, prefix string, b []byte) {
	for i := 0; i*chunkSize < len(b); i++ {
		end := min((i+1)*chunkSize, len(b))
		props[fmt.Sprintf("%s%02d", prefix, i)] = aztables.EDMBinary(b[i*chunkSize : end])
	}
}

func groupEntity(g store.Group) ([]byte, error) {
	props := map[string]any{
		"ID":        g.ID,
		"Window":    tableTime(g.Window),
		"ExpiresAt": tableTime(g.ExpiresAt),
		"UPN":       rules.Label(g.UPN),
		"SessionID": rules.Label(g.SessionID),
		"StateLen":  aztables.EDMInt64(len(g.State)),
	}
	putChunks(props, "S", g.State)
	return json.Marshal(aztables.EDMEntity{
		Entity:     aztables.Entity{PartitionKey: partitionKey(g.ID, g.Window), RowKey: groupRowKey(g.ID)},
		Properties: props,
	})
}

func pendingEntity(p store.Pending) ([]byte, error) {
	props := map[string]any{
		"GroupID":           p.GroupID,
		"Window":            tableTime(p.Window),
		"Revision":          aztables.EDMInt64(p.Revision),
		"CreatedAt":         tableTime(p.CreatedAt),
		"Attempts":          aztables.EDMInt64(p.Attempts),
		"PermanentFailures": aztables.EDMInt64(p.PermanentFailures),
		"NextAttempt":       tableTime(p.NextAttempt),
		"LastError":         rules.Label(p.LastError),
		"RowLen":            aztables.EDMInt64(len(p.Row)),
	}
	putChunks(props, "R", p.Row)
	return json.Marshal(aztables.EDMEntity{
		Entity:     aztables.Entity{PartitionKey: partitionKey(p.GroupID, p.Window), RowKey: pendingRowKey(p.GroupID, p.Revision)},
		Properties: props,
	})
}

// props reads typed properties, remembering the first problem.
type props struct {
	m   map[string]any
	err error
}

func (p *props) fail(name, want string) {
	if p.err == nil {
		p.err = fmt.Errorf("property %s: got %T, want %s", name, p.m[name], want)
	}
}

func (p *props) str(name string) string {
	switch v := p.m[name].(type) {
	case string:
		return v
	case nil:
		return ""
	}
	p.fail(name, "string")
	return ""
}

func (p *props) int(name string) int {
	switch v := p.m[name].(type) {
	case aztables.EDMInt64:
		return int(v)
	case int32:
		return int(v)
	}
	p.fail(name, "Edm.Int64")
	return 0
}

func (p *props) time(name string) time.Time {
	v, ok := p.m[name].(aztables.EDMDateTime)
	if !ok {
		p.fail(name, "Edm.DateTime")
		return time.Time{}
	}
	t := time.Time(v).UTC()
	if t.Equal(rules.MinTime()) {
		return time.Time{}
	}
	return t
}

func (p *props) chunks(prefix string, n int) []byte {
	if n == 0 || p.err != nil {
		return nil
	}
	out := make([]byte, 0, n)
	for i := 0; len(out) < n; i++ {
		name := fmt.Sprintf("%s%02d", prefix, i)
		v, ok := p.m[name].(aztables.EDMBinary)
		if !ok || len(v) == 0 {
			p.fail(name, "Edm.Binary")
			return nil
		}
		out = append(out, v...)
	}
	if len(out) != n {
		p.err = fmt.Errorf("chunks %s*: %d bytes, want %d", prefix, len(out), n)
		return nil
	}
	return out
}

func decodeGroup(body []byte) (store.Group, string, error) {
	var e aztables.EDMEntity
	if err := json.Unmarshal(body, &e); err != nil {
		return store.Group{}, "", err
	}
	p := &props{m: e.Properties}
	g := store.Group{
		ID:        p.str("ID"),
		Window:    p.time("Window"),
		ExpiresAt: p.time("ExpiresAt"),
		UPN:       p.str("UPN"),
		SessionID: p.str("SessionID"),
	}
	g.State = p.chunks("S", p.int("StateLen"))
	return g, e.ETag, p.err
}

func decodePending(body []byte) (store.Pending, error) {
	var e aztables.EDMEntity
	if err := json.Unmarshal(body, &e); err != nil {
		return store.Pending{}, err
	}
	p := &props{m: e.Properties}
	out := store.Pending{
		GroupID:           p.str("GroupID"),
		Window:            p.time("Window"),
		Revision:          p.int("Revision"),
		CreatedAt:         p.time("CreatedAt"),
		Attempts:          p.int("Attempts"),
		PermanentFailures: p.int("PermanentFailures"),
		NextAttempt:       p.time("NextAttempt"),
		LastError:         p.str("LastError"),
		ETag:              e.ETag,
	}
	out.Row = p.chunks("R", p.int("RowLen"))
	if p.err != nil {
		return store.Pending{}, fmt.Errorf("entity %s/%s: %w", e.PartitionKey, e.RowKey, p.err)
	}
	return out, nil
}

// Errors.

// serviceError is a failure reported inside a transaction's 202 response.
type serviceError struct {
	Status int
	Code   string
	Body   string
}

func (e *serviceError) Error() string {
	return fmt.Sprintf("transaction failed: %d %s: %s", e.Status, e.Code, e.Body)
}

// translate maps a service error to the store sentinels, keeping the
// original in the chain. onMissing is what a 404 on an entity means for the
// operation (ErrNotFound, or ErrConflict for a conditional update).
func translate(err error, onMissing error) error {
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		return err
	}
	status, code := re.StatusCode, re.ErrorCode
	if status == http.StatusAccepted && re.RawResponse != nil {
		se := innerError(re.RawResponse)
		if se == nil {
			return err
		}
		err, status, code = se, se.Status, se.Code
	}
	switch {
	case code == string(aztables.TableNotFound):
		return err
	case status == http.StatusNotFound:
		return fmt.Errorf("%w: %w", onMissing, err)
	case status == http.StatusConflict || status == http.StatusPreconditionFailed:
		return fmt.Errorf("%w: %w", store.ErrConflict, err)
	case status == http.StatusRequestEntityTooLarge,
		code == string(aztables.EntityTooLarge),
		code == string(aztables.PropertyValueTooLarge),
		code == string(aztables.TooManyProperties),
		code == "RequestBodyTooLarge":
		return fmt.Errorf("%w: %w", store.ErrTooLarge, err)
	}
	return err
}

// innerResponse is one operation's answer inside a transaction response.
type innerResponse struct {
	status int
	body   []byte
}

// batchResponses parses a transaction's multipart response: on failure it
// holds the failed operation's answer.
func batchResponses(resp *http.Response) ([]innerResponse, error) {
	body, err := runtime.Payload(resp)
	if err != nil {
		return nil, err
	}
	_, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil {
		return nil, err
	}
	var out []innerResponse
	outer := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	for {
		part, err := outer.NextPart()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		mt, ps, err := mime.ParseMediaType(part.Header.Get("Content-Type"))
		if err != nil {
			return nil, err
		}
		if mt == "multipart/mixed" { // the changeset
			inner := multipart.NewReader(part, ps["boundary"])
			for {
				ip, err := inner.NextPart()
				if err == io.EOF {
					break
				}
				if err != nil {
					return nil, err
				}
				r, err := readInner(ip)
				if err != nil {
					return nil, err
				}
				out = append(out, r)
			}
			continue
		}
		r, err := readInner(part) // a failure outside a changeset
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
}

func readInner(part io.Reader) (innerResponse, error) {
	r, err := http.ReadResponse(bufio.NewReader(part), nil)
	if err != nil {
		return innerResponse{}, err
	}
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return innerResponse{}, err
	}
	return innerResponse{status: r.StatusCode, body: b}, nil
}

var codeRE = regexp.MustCompile(`"code"\s*:\s*"([^"]*)"`)

// innerError finds the failed operation in a 202 transaction response.
func innerError(resp *http.Response) *serviceError {
	rs, err := batchResponses(resp)
	if err != nil {
		return nil
	}
	for _, r := range rs {
		if r.status >= 400 {
			se := &serviceError{Status: r.status, Body: string(r.body)}
			if m := codeRE.FindSubmatch(r.body); m != nil {
				se.Code = string(m[1])
			}
			return se
		}
	}
	return nil
}

// Operations.

// Load returns the group id in window, or store.ErrNotFound.
func (s *Store) Load(ctx context.Context, id string, window time.Time) (store.Group, error) {
	if err := rules.CheckID(id); err != nil {
		return store.Group{}, fmt.Errorf("tablestore: load group: %w", err)
	}
	if err := rules.CheckWindow(window); err != nil {
		return store.Group{}, fmt.Errorf("tablestore: load group %s: %w", id, err)
	}
	resp, err := s.client.GetEntity(ctx, partitionKey(id, window), groupRowKey(id), nil)
	if err != nil {
		return store.Group{}, fmt.Errorf("tablestore: load group %s: %w", id, translate(err, store.ErrNotFound))
	}
	g, _, err := decodeGroup(resp.Value)
	if err != nil {
		return store.Group{}, fmt.Errorf("tablestore: load group %s: %w", id, err)
	}
	g.ETag = string(resp.ETag)
	return g, nil
}

// Commit writes g and its new outbox entries in one entity group
// transaction. An empty g.ETag creates the group (store.ErrConflict if it
// exists); otherwise it replaces the group only if its ETag still matches
// (store.ErrConflict if not, or if the group is gone). An outbox entry that
// exists already is also a conflict; a conflict writes nothing. The
// service's multipart answer is read only when the transaction failed, to
// find why.
func (s *Store) Commit(ctx context.Context, g store.Group, outbox []store.Pending) error {
	if err := rules.CheckCommit(g, outbox); err != nil {
		return fmt.Errorf("tablestore: commit group %s: %w", g.ID, err)
	}
	body, err := groupEntity(g)
	if err != nil {
		return fmt.Errorf("tablestore: commit group %s: %w", g.ID, err)
	}
	actions := make([]aztables.TransactionAction, 0, 1+len(outbox))
	if g.ETag == "" {
		actions = append(actions, aztables.TransactionAction{ActionType: aztables.TransactionTypeAdd, Entity: body})
	} else {
		// UpdateReplace without IfMatch would be an upsert; always set it.
		actions = append(actions, aztables.TransactionAction{
			ActionType: aztables.TransactionTypeUpdateReplace, Entity: body, IfMatch: to.Ptr(azcore.ETag(g.ETag)),
		})
	}
	for _, p := range outbox {
		b, err := pendingEntity(p)
		if err != nil {
			return fmt.Errorf("tablestore: commit group %s: outbox revision %d: %w", g.ID, p.Revision, err)
		}
		actions = append(actions, aztables.TransactionAction{ActionType: aztables.TransactionTypeAdd, Entity: b})
	}
	if _, err := s.client.SubmitTransaction(ctx, actions, nil); err != nil {
		return fmt.Errorf("tablestore: commit group %s: %w", g.ID, translate(err, store.ErrConflict))
	}
	return nil
}

// ListPending returns up to limit outbox entries whose NextAttempt is not
// after due, from all partitions, in key order.
func (s *Store) ListPending(ctx context.Context, due time.Time, limit int) ([]store.Pending, error) {
	if limit <= 0 {
		return nil, nil
	}
	if due.Before(rules.MinTime()) {
		due = rules.MinTime()
	}
	filter := fmt.Sprintf("RowKey ge 'o' and RowKey lt 'p' and NextAttempt le datetime'%s'",
		rules.Time(due).Format(timeLayout))
	opts := &aztables.ListEntitiesOptions{Filter: &filter}
	var out []store.Pending
	var pager *runtime.Pager[aztables.ListEntitiesResponse]
	for pager == nil || pager.More() {
		// Top is per page; ask for no more than is still wanted.
		opts.Top = to.Ptr(int32(min(limit-len(out), 1000)))
		if pager == nil {
			pager = s.client.NewListEntitiesPager(opts)
		}
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("tablestore: list pending: %w", translate(err, store.ErrNotFound))
		}
		for _, e := range page.Entities {
			p, err := decodePending(e)
			if err != nil {
				return nil, fmt.Errorf("tablestore: list pending: %w", err)
			}
			out = append(out, p)
			if len(out) == limit {
				return out, nil
			}
		}
	}
	return out, nil
}

// CountPending returns how many outbox entries there are, due or not. It
// pages through every one but asks for their keys only ($select), never
// their rows.
func (s *Store) CountPending(ctx context.Context) (int, error) {
	filter := "RowKey ge 'o' and RowKey lt 'p'"
	pager := s.client.NewListEntitiesPager(&aztables.ListEntitiesOptions{
		Filter: &filter, Select: to.Ptr("RowKey"), Top: to.Ptr(int32(1000)),
	})
	n := 0
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return n, fmt.Errorf("tablestore: count pending: %w", translate(err, store.ErrNotFound))
		}
		n += len(page.Entities)
	}
	return n, nil
}

// UpdatePending replaces an outbox entry if its ETag still matches p.ETag
// (any version for store.ETagAny): store.ErrConflict if it does not,
// store.ErrNotFound if the entry is gone.
func (s *Store) UpdatePending(ctx context.Context, p store.Pending) error {
	if err := rules.CheckPending(p); err != nil {
		return fmt.Errorf("tablestore: update pending %s/%d: %w", p.GroupID, p.Revision, err)
	}
	if p.ETag == "" {
		return fmt.Errorf("tablestore: update pending %s/%d: missing etag", p.GroupID, p.Revision)
	}
	body, err := pendingEntity(p)
	if err != nil {
		return fmt.Errorf("tablestore: update pending %s/%d: %w", p.GroupID, p.Revision, err)
	}
	_, err = s.client.UpdateEntity(ctx, body, &aztables.UpdateEntityOptions{
		IfMatch: to.Ptr(azcore.ETag(p.ETag)), UpdateMode: aztables.UpdateModeReplace,
	})
	if err != nil {
		return fmt.Errorf("tablestore: update pending %s/%d: %w", p.GroupID, p.Revision, translate(err, store.ErrNotFound))
	}
	return nil
}

// Ack deletes an outbox entry whatever its ETag. A missing entry is not an
// error.
func (s *Store) Ack(ctx context.Context, p store.Pending) error {
	if err := rules.CheckID(p.GroupID); err != nil {
		return fmt.Errorf("tablestore: ack: %w", err)
	}
	if err := rules.CheckWindow(p.Window); err != nil {
		return fmt.Errorf("tablestore: ack %s/%d: %w", p.GroupID, p.Revision, err)
	}
	_, err := s.client.DeleteEntity(ctx, partitionKey(p.GroupID, p.Window), pendingRowKey(p.GroupID, p.Revision), nil)
	if err = translate(err, store.ErrNotFound); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("tablestore: ack %s/%d: %w", p.GroupID, p.Revision, err)
	}
	return nil
}

type expired struct{ pk, rk, etag string }

// Expire deletes the groups whose ExpiresAt is before c.ExpiresBefore and
// whose window started before c.WindowsBefore (when set), and returns how
// many it deleted. Outbox entries are never expired. Keys start with the
// zero-padded window, so it reads only partitions below the window bound
// (rules.WindowBound), and of those only the keys of due groups; it deletes
// page by page, with each group's ETag, so a group written since the read
// survives.
func (s *Store) Expire(ctx context.Context, c store.Cutoff) (int, error) {
	bound := rules.WindowBound(c)
	secs := bound.Unix() // windows are whole seconds: below bound means below ceil(bound)
	if bound.After(time.Unix(secs, 0)) {
		secs++
	}
	if secs <= 0 {
		return 0, nil
	}
	filter := fmt.Sprintf("PartitionKey lt '%012d' and RowKey ge 'g' and RowKey lt 'h' and ExpiresAt lt datetime'%s'",
		secs, rules.Time(c.ExpiresBefore).Format(timeLayout))
	pager := s.client.NewListEntitiesPager(&aztables.ListEntitiesOptions{
		Filter: &filter,
		Select: to.Ptr("PartitionKey,RowKey"),
	})
	n := 0
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return n, fmt.Errorf("tablestore: expire: %w", translate(err, store.ErrNotFound))
		}
		// A page is in key order: one run of entities per partition.
		var run []expired
		flush := func() error {
			for len(run) > 0 {
				chunk := run[:min(len(run), 100)]
				run = run[len(chunk):]
				d, err := s.deleteGroups(ctx, chunk)
				n += d
				if err != nil {
					return fmt.Errorf("tablestore: expire partition %s: %w", chunk[0].pk, err)
				}
			}
			return nil
		}
		for _, b := range page.Entities {
			var e aztables.EDMEntity
			if err := json.Unmarshal(b, &e); err != nil {
				return n, fmt.Errorf("tablestore: expire: %w", err)
			}
			if len(run) > 0 && run[0].pk != e.PartitionKey {
				if err := flush(); err != nil {
					return n, err
				}
			}
			run = append(run, expired{e.PartitionKey, e.RowKey, e.ETag})
		}
		if err := flush(); err != nil {
			return n, err
		}
	}
	return n, nil
}

func etagOrAny(etag string) *azcore.ETag {
	if etag == "" {
		return to.Ptr(azcore.ETagAny)
	}
	return to.Ptr(azcore.ETag(etag))
}

// deleteGroups deletes up to 100 groups of one partition in one
// transaction. If one of them changed or vanished since the scan, the
// transaction fails as a whole and they are deleted one by one instead.
func (s *Store) deleteGroups(ctx context.Context, es []expired) (int, error) {
	actions := make([]aztables.TransactionAction, len(es))
	for i, e := range es {
		body, err := json.Marshal(map[string]string{"PartitionKey": e.pk, "RowKey": e.rk})
		if err != nil {
			return 0, err
		}
		actions[i] = aztables.TransactionAction{ActionType: aztables.TransactionTypeDelete, Entity: body, IfMatch: etagOrAny(e.etag)}
	}
	_, err := s.client.SubmitTransaction(ctx, actions, nil)
	if err == nil {
		return len(es), nil
	}
	if err = translate(err, store.ErrNotFound); !errors.Is(err, store.ErrConflict) && !errors.Is(err, store.ErrNotFound) {
		return 0, err
	}
	n := 0
	for _, e := range es {
		_, err := s.client.DeleteEntity(ctx, e.pk, e.rk, &aztables.DeleteEntityOptions{IfMatch: etagOrAny(e.etag)})
		err = translate(err, store.ErrNotFound)
		switch {
		case err == nil:
			n++
		case errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrNotFound):
		default:
			return n, err
		}
	}
	return n, nil
}
