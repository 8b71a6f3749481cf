package server

import (
	"bytes"
	"encoding/binary"

	bolt "go.etcd.io/bbolt"

	"github.com/norikv/norikv-go/internal/wire"
)

// Client sessions in durable mode (storage.go): a session write's answer
// is stored in the transaction that stores the write, so a retry after a
// restart still replays it. Bucket "sess" holds, per session (its 22-byte
// client id, then a big-endian sequence):
//
//	id, 0   → floor, last write (wall-clock Unix nanoseconds)
//	id, seq → fingerprint, term, index, flag, shard   (seq ≥ floor)
//
// A write's transaction also deletes the answers the session dropped
// since the last one stored (below its new floor), so the bucket holds
// what the memory table holds; the reaper deletes expired sessions.

func sessKey(id string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(append(make([]byte, 0, len(id)+8), id...), seq)
}

// sessionPairs adds to pairs the changes of one session write: its
// answer, the session's floor and last use, and the deletion of the
// answers dropped since the last write stored. Caller holds the shard's
// lock; the table has the session (begin opened it).
func (st *store) sessionPairs(pairs []kvPair, k wire.SessionKey, shard uint32, fp uint64, res idemResult, now int64) []kvPair {
	t := st.c.sessions
	t.mu.Lock()
	floor, from := k.Watermark, k.Watermark
	if s := t.m[k.ID]; s != nil {
		floor, from = s.floor, s.storedFloor
		s.storedFloor = floor
	}
	t.mu.Unlock()
	if floor > from {
		pairs = append(pairs, kvPair{bucket: bucketSess, k: sessKey(k.ID, max(from, 1)), upto: sessKey(k.ID, floor), del: true})
	}
	meta := binary.BigEndian.AppendUint64(make([]byte, 0, 16), floor)
	meta = binary.BigEndian.AppendUint64(meta, uint64(st.wall+now))
	pairs = append(pairs, kvPair{bucket: bucketSess, k: sessKey(k.ID, 0), v: meta})
	if k.Seq >= floor {
		v := binary.BigEndian.AppendUint32(appendAnswer(make([]byte, 0, 29), fp, res), shard)
		pairs = append(pairs, kvPair{bucket: bucketSess, k: sessKey(k.ID, k.Seq), v: v})
	}
	return pairs
}

// loadSessions restores the sessions not idle past the idle timeout, and
// deletes the others and any answer below its session's floor.
func (st *store) loadSessions(tx *bolt.Tx, nowWall int64) error {
	t := st.c.sessions
	b := tx.Bucket(bucketSess)
	var stale [][]byte
	var cur *session
	err := b.ForEach(func(k, v []byte) error {
		if len(k) != wire.SessionIDLen+8 {
			stale = append(stale, k)
			return nil
		}
		id, seq := k[:wire.SessionIDLen], binary.BigEndian.Uint64(k[wire.SessionIDLen:])
		if seq == 0 {
			cur = nil
			if len(v) != 16 {
				stale = append(stale, k)
				return nil
			}
			floor, last := binary.BigEndian.Uint64(v), int64(binary.BigEndian.Uint64(v[8:]))
			if last+t.idle <= nowWall {
				stale = append(stale, k)
				return nil
			}
			cur = &session{id: string(id), floor: floor, storedFloor: floor, last: last - st.wall}
			t.m[cur.id] = cur
			t.pushBack(cur) // reordered by last use below
			return nil
		}
		if cur == nil || !bytes.Equal(id, []byte(cur.id)) || seq < cur.floor || len(v) != 29 {
			stale = append(stale, k)
			return nil
		}
		fp, res := readAnswer(v)
		t.put(cur, seq, sessionAnswer{fp: fp, res: res, shard: binary.BigEndian.Uint32(v[25:]), set: true})
		return nil
	})
	if err != nil {
		return err
	}
	t.sortByLastUse()
	return deleteAll(b, stale)
}

// dropSessions deletes the stored records of sessions the table forgot.
func (st *store) dropSessions(ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	return st.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSess)
		for _, id := range ids {
			if err := deleteRange(b, sessKey(id, 0), sessKey(id, 1<<64-1)); err != nil {
				return err
			}
			if err := b.Delete(sessKey(id, 1<<64-1)); err != nil {
				return err
			}
		}
		return nil
	})
}

// deleteRange deletes b's keys in [from, to). The keys are collected
// first: a bbolt cursor may skip a key after a Delete.
func deleteRange(b *bolt.Bucket, from, to []byte) error {
	var keys [][]byte
	cur := b.Cursor()
	for k, _ := cur.Seek(from); k != nil && bytes.Compare(k, to) < 0; k, _ = cur.Next() {
		keys = append(keys, bytes.Clone(k))
	}
	return deleteAll(b, keys)
}

// appendAnswer appends a stored idempotency answer, as the TTL cache's
// entries and sessions' answers both keep it: fingerprint, term, index,
// flag (25 bytes).
func appendAnswer(dst []byte, fp uint64, res idemResult) []byte {
	dst = binary.BigEndian.AppendUint64(dst, fp)
	dst = binary.BigEndian.AppendUint64(dst, res.ver.term)
	dst = binary.BigEndian.AppendUint64(dst, res.ver.index)
	if res.flag {
		return append(dst, 1)
	}
	return append(dst, 0)
}

// readAnswer reads what appendAnswer wrote.
func readAnswer(v []byte) (fp uint64, res idemResult) {
	return binary.BigEndian.Uint64(v), idemResult{ver: version{term: binary.BigEndian.Uint64(v[8:]), index: binary.BigEndian.Uint64(v[16:])}, flag: v[24] == 1}
}
