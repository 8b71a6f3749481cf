package conformance

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"time"

	"connectrpc.com/connect"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
)

func kvCases() []caseDef {
	return []caseDef{
		{name: "versions", run: caseVersions},
		{name: "cas_put", run: caseCASPut},
		{name: "cas_delete", run: caseCASDelete},
		{name: "delete", run: caseDelete},
		{name: "ttl", run: caseTTL},
		{name: "idempotency", run: caseIdempotency},
		{name: "consistency", run: caseConsistency},
	}
}

// caseVersions: every write returns a version; the index grows strictly
// with each write to a shard; Get returns the version of the last write.
// Other cells may write to the same shard at the same time, which only
// widens the gaps, so "strictly greater" is the exact check.
func caseVersions(c *cell) error {
	keys, _ := c.keysOnShard("v", 3)
	if keys == nil {
		// Unknown shard count: writes to one key share a shard too.
		k := c.key("v")
		keys = [][]byte{k, k, k}
	}
	var p problems
	var last *v1.Version
	written := map[string]*v1.Version{}
	order := append(slices.Clone(keys), keys[0]) // rewrite the first key: its Get must see the second write
	for i, k := range order {
		v, err := c.mustPut(k, fmt.Appendf(nil, "value-%d", i))
		if err != nil {
			return err
		}
		if v.GetIndex() == 0 {
			p.addf("put #%d: version index is 0", i)
		}
		if last != nil && v.GetIndex() <= last.GetIndex() {
			p.addf("put #%d: index %d not greater than the previous write's %d on the same shard", i, v.GetIndex(), last.GetIndex())
		}
		if last != nil && v.GetTerm() < last.GetTerm() {
			p.addf("put #%d: term went back from %d to %d", i, last.GetTerm(), v.GetTerm())
		}
		last = v
		written[string(k)] = v
	}
	for k, want := range written {
		resp, err := c.get(&v1.GetRequest{Key: []byte(k)})
		if err != nil {
			p.addf("get %q: %s", k, describe(err))
			continue
		}
		if !sameVersion(resp.GetVersion(), want) {
			p.addf("get %q: version %s, want the last write's %s", k, fmtVersion(resp.GetVersion()), fmtVersion(want))
		}
	}
	// A delete is a write too: its version continues the sequence.
	dr, err := c.del(&v1.DeleteRequest{Key: keys[1]})
	switch {
	case err != nil:
		p.addf("delete: %s", describe(err))
	case dr.GetVersion() == nil:
		p.addf("delete of a live key: response has no version")
	case dr.GetVersion().GetIndex() <= last.GetIndex():
		p.addf("delete: index %d not greater than the previous write's %d", dr.GetVersion().GetIndex(), last.GetIndex())
	}
	return p.err()
}

// mentionsVersion is how the suite reads "the message mentions the version".
func mentionsVersion(err error) bool {
	ce := new(connect.Error)
	if !asConnect(err, &ce) {
		return false
	}
	return strings.Contains(strings.ToLower(ce.Message()), "version")
}

// caseCASPut: if_match equal → written; different → FAILED_PRECONDITION
// naming the version, and nothing written; on an absent key →
// FAILED_PRECONDITION, and the key stays absent.
func caseCASPut(c *cell) error {
	k := c.key("cas")
	v1v, err := c.mustPut(k, []byte("one"))
	if err != nil {
		return err
	}
	var p problems
	r2, err := c.put(&v1.PutRequest{Key: k, Value: []byte("two"), IfMatch: v1v})
	if err != nil {
		return fmt.Errorf("put with matching if_match %s: want OK, got %s", fmtVersion(v1v), describe(err))
	}
	v2 := r2.GetVersion()
	_, err = c.put(&v1.PutRequest{Key: k, Value: []byte("three"), IfMatch: v1v})
	if e := wantCode(err, connect.CodeFailedPrecondition, "put with stale if_match"); e != nil {
		p.add(e)
	} else if !mentionsVersion(err) {
		p.addf("put with stale if_match: message %q does not mention the version", describe(err))
	}
	if g, err := c.get(&v1.GetRequest{Key: k}); err != nil {
		p.addf("get after failed CAS: %s", describe(err))
	} else if string(g.GetValue()) != "two" || !sameVersion(g.GetVersion(), v2) {
		p.addf("get after failed CAS: value %q version %s, want \"two\" %s (the mismatched CAS wrote)", g.GetValue(), fmtVersion(g.GetVersion()), fmtVersion(v2))
	}
	// Same index, other term: CAS compares both.
	other := &v1.Version{Term: v2.GetTerm() + 1, Index: v2.GetIndex()}
	_, err = c.put(&v1.PutRequest{Key: k, Value: []byte("four"), IfMatch: other})
	p.add(wantCode(err, connect.CodeFailedPrecondition, "put with if_match of the right index but another term"))

	absent := c.key("cas-absent")
	c.cleanupKey(absent)
	_, err = c.put(&v1.PutRequest{Key: absent, Value: []byte("x"), IfMatch: v1v})
	p.add(wantCode(err, connect.CodeFailedPrecondition, "put with if_match on an absent key"))
	g, err := c.get(&v1.GetRequest{Key: absent})
	p.add(c.wantAbsent(g, err, "get after CAS on an absent key"))
	return p.err()
}

// caseCASDelete: the same rules on Delete. The Rust server accepts
// if_match on Delete and deletes anyway; that is the finding
// DefectDeleteIfMatchIgnored, told apart from other failures by what the
// stale delete did (answered OK and removed the key).
func caseCASDelete(c *cell) error {
	k := c.key("casdel")
	old, err := c.mustPut(k, []byte("one"))
	if err != nil {
		return err
	}
	cur, err := c.mustPut(k, []byte("two"))
	if err != nil {
		return err
	}
	var p problems
	_, err = c.del(&v1.DeleteRequest{Key: k, IfMatch: old})
	g, gerr := c.get(&v1.GetRequest{Key: k})
	_, gone := absentForm(g, gerr)
	switch {
	case err == nil && gone:
		p.finding(DefectDeleteIfMatchIgnored, "a Delete with the stale if_match %s (current %s) answered OK and removed the key", fmtVersion(old), fmtVersion(cur))
		// Write it again so the rest of the case has a key to work on.
		if cur, err = c.mustPut(k, []byte("two")); err != nil {
			return err
		}
	case err == nil:
		p.addf("delete with stale if_match: want FAILED_PRECONDITION, got OK (the key was kept: get answered %s)", describe(gerr))
	default:
		if e := wantCode(err, connect.CodeFailedPrecondition, "delete with stale if_match"); e != nil {
			p.add(e)
		} else if !mentionsVersion(err) {
			p.addf("delete with stale if_match: message %q does not mention the version", describe(err))
		}
		if gerr != nil || !sameVersion(g.GetVersion(), cur) {
			p.addf("get after a refused delete with stale if_match: want the key intact at %s, got %s version %s", fmtVersion(cur), describe(gerr), fmtVersion(g.GetVersion()))
		}
	}
	dr, err := c.del(&v1.DeleteRequest{Key: k, IfMatch: cur})
	if err != nil {
		p.addf("delete with matching if_match: want OK, got %s", describe(err))
	} else if !dr.GetTombstoned() {
		p.addf("delete with matching if_match: tombstoned = false, want true")
	}
	g, err = c.get(&v1.GetRequest{Key: k})
	p.add(c.wantAbsent(g, err, "get after delete with matching if_match"))

	absent := c.key("casdel-absent")
	_, err = c.del(&v1.DeleteRequest{Key: absent, IfMatch: cur})
	if err == nil {
		p.finding(DefectDeleteIfMatchIgnored, "a Delete with if_match %s of a key that does not exist answered OK", fmtVersion(cur))
	} else {
		p.add(wantCode(err, connect.CodeFailedPrecondition, "delete with if_match on an absent key"))
	}
	return p.err()
}

// caseDelete: tombstoned tells whether a live key was removed; a deleted or
// never-written key reads as absent (OK with no version, or NOT_FOUND).
func caseDelete(c *cell) error {
	var p problems
	never := c.key("never-written")
	g, err := c.get(&v1.GetRequest{Key: never})
	p.add(c.wantAbsent(g, err, "get of a never-written key"))

	k := c.key("del")
	if _, err := c.mustPut(k, []byte("v")); err != nil {
		return err
	}
	dr, err := c.del(&v1.DeleteRequest{Key: k})
	if err != nil {
		return fmt.Errorf("delete of a live key: %s", describe(err))
	}
	if !dr.GetTombstoned() {
		p.addf("delete of a live key: tombstoned = false, want true")
	}
	g, err = c.get(&v1.GetRequest{Key: k})
	p.add(c.wantAbsent(g, err, "get after delete"))
	dr, err = c.del(&v1.DeleteRequest{Key: k})
	if err != nil {
		p.addf("second delete: want OK, got %s", describe(err))
	} else if dr.GetTombstoned() {
		p.addf("second delete: tombstoned = true, want false")
	}
	dr, err = c.del(&v1.DeleteRequest{Key: never})
	if err != nil {
		p.addf("delete of a never-written key: want OK, got %s", describe(err))
	} else if dr.GetTombstoned() {
		p.addf("delete of a never-written key: tombstoned = true, want false")
	}
	// An empty value is a value, not an absence.
	e := c.key("empty")
	if _, err := c.mustPut(e, nil); err != nil {
		return err
	}
	g, err = c.get(&v1.GetRequest{Key: e})
	if err != nil || g.GetVersion() == nil {
		p.addf("get of a key holding an empty value: want OK with a version, got %s (version %s)", describe(err), fmtVersion(g.GetVersion()))
	}
	return p.err()
}

// caseTTL: a key written with ttl_ms = 300 reads back at once and is
// absent well after it expired. Only lower bounds on waiting are used: the
// deadline is generous (five TTLs) and the poll stops at the first absent
// answer. A loaded machine can take longer than the TTL between the put
// and the first get; then the first read proves nothing, so the case tries
// again with a longer TTL (1 s, then 3 s), which checks the same things.
func caseTTL(c *cell) error {
	k := c.key("ttl")
	c.cleanupKey(k)
	var ttl time.Duration
	for i, t := range [...]time.Duration{300 * time.Millisecond, time.Second, 3 * time.Second} {
		ttl = t
		ms := uint64(ttl / time.Millisecond)
		start := time.Now()
		if _, err := c.put(&v1.PutRequest{Key: k, Value: []byte("ephemeral"), TtlMs: ms}); err != nil {
			return fmt.Errorf("put with ttl_ms=%d: %s", ms, describe(err))
		}
		g, err := c.get(&v1.GetRequest{Key: k})
		if took := time.Since(start); took >= ttl {
			if i < 2 {
				continue
			}
			return fmt.Errorf("inconclusive: put+get took %s, longer than the TTL, with ttl_ms = 300, 1000 and 3000", took.Round(time.Millisecond))
		}
		if err != nil || string(g.GetValue()) != "ephemeral" {
			return fmt.Errorf("get right after put with ttl_ms=%d: want the value, got %s value %q", ms, describe(err), g.GetValue())
		}
		break
	}
	deadline := 5 * ttl
	start := time.Now()
	var g *v1.GetResponse
	var err error
	for {
		time.Sleep(100 * time.Millisecond)
		g, err = c.get(&v1.GetRequest{Key: k})
		if err != nil || g.GetVersion() == nil || time.Since(start) > deadline {
			break
		}
	}
	if e := c.wantAbsent(g, err, "get after the TTL"); e != nil {
		return fmt.Errorf("%w (%s after the put)", e, time.Since(start).Round(time.Millisecond))
	}
	return nil
}

// caseIdempotency: a retry with the same idempotency_key returns the first
// result and writes nothing; the same key on a different request is
// INVALID_ARGUMENT. Concurrent cells may write to the shard, so "writes
// nothing" is checked through Get: the key still shows the first version.
// The two known ways servers get this wrong are findings: keys ignored (a
// replay is applied again) and reuse unchecked (a different request under
// a used key is answered with the first result, the Rust server's cache).
func caseIdempotency(c *cell) error {
	k := c.key("idem")
	c.cleanupKey(k)
	ik := c.tag + "put-1"
	req := &v1.PutRequest{Key: k, Value: []byte("first"), IdempotencyKey: ik}
	r1, err := c.put(req)
	if err != nil {
		return fmt.Errorf("put with idempotency_key: %s", describe(err))
	}
	var p problems
	r2, err := c.put(req)
	if err != nil {
		return fmt.Errorf("retry with the same idempotency_key: want OK, got %s", describe(err))
	}
	if !sameVersion(r1.GetVersion(), r2.GetVersion()) {
		p.finding(DefectIdempotencyIgnored, "a Put retried with the same idempotency_key answered version %s, the first %s", fmtVersion(r2.GetVersion()), fmtVersion(r1.GetVersion()))
	}
	ro, err := c.put(&v1.PutRequest{Key: k, Value: []byte("other"), IdempotencyKey: ik})
	g, gerr := c.get(&v1.GetRequest{Key: k})
	kept := gerr == nil && string(g.GetValue()) == "first" && sameVersion(g.GetVersion(), r1.GetVersion())
	switch {
	case p.has(DefectIdempotencyIgnored):
		// The key means nothing to this server; what the other request
		// did follows from that.
	case err == nil && kept && sameVersion(ro.GetVersion(), r1.GetVersion()):
		p.finding(DefectIdempotencyReuseUnchecked, "a different Put under a used idempotency_key answered OK with the first Put's version %s and was not applied (want INVALID_ARGUMENT)", fmtVersion(r1.GetVersion()))
	default:
		p.add(wantCode(err, connect.CodeInvalidArgument, "same idempotency_key on a different request"))
		if !kept {
			p.addf("get after retries: value %q version %s (%s), want \"first\" %s (a retry wrote again)", g.GetValue(), fmtVersion(g.GetVersion()), describe(gerr), fmtVersion(r1.GetVersion()))
		}
	}

	// Delete: a retried delete must not report "nothing to delete".
	dreq := &v1.DeleteRequest{Key: k, IdempotencyKey: c.tag + "del-1"}
	d1, err := c.del(dreq)
	if err != nil {
		return fmt.Errorf("delete with idempotency_key: %s", describe(err))
	}
	d2, err := c.del(dreq)
	switch {
	case err != nil:
		p.addf("retried delete: want OK, got %s", describe(err))
	case d2.GetTombstoned() != d1.GetTombstoned() || !sameVersion(d1.GetVersion(), d2.GetVersion()):
		p.finding(DefectIdempotencyIgnored, "a Delete retried with the same idempotency_key answered tombstoned %v version %s, the first %v %s", d2.GetTombstoned(), fmtVersion(d2.GetVersion()), d1.GetTombstoned(), fmtVersion(d1.GetVersion()))
	}
	return p.err()
}

// caseConsistency: all seven spellings are accepted on Get; anything else
// is INVALID_ARGUMENT.
func caseConsistency(c *cell) error {
	k := c.key("cons")
	if _, err := c.mustPut(k, []byte("v")); err != nil {
		return err
	}
	var p problems
	for _, s := range []string{"", "lease", "linearizable", "strong", "eventual", "stale_ok", "bounded_staleness"} {
		g, err := c.get(&v1.GetRequest{Key: k, Consistency: s})
		if err != nil {
			p.addf("get with consistency %q: want OK, got %s", s, describe(err))
		} else if !bytes.Equal(g.GetValue(), []byte("v")) {
			p.addf("get with consistency %q: value %q, want \"v\"", s, g.GetValue())
		}
	}
	for _, s := range []string{"bogus", "STRONG"} {
		_, err := c.get(&v1.GetRequest{Key: k, Consistency: s})
		p.add(wantCode(err, connect.CodeInvalidArgument, fmt.Sprintf("get with consistency %q", s)))
	}
	return p.err()
}
