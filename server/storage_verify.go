package server

// This file is the walk of a data file's page structure: the one check of
// durable mode that reads the file itself rather than through bbolt.
//
// bbolt trusts what its meta pages' checksum does not cover: every other
// page's header (id, type, element count, overflow) and its elements'
// offsets and child page ids. Damage there makes bbolt fault on a read
// past the file, loop for ever on a branch page that is its own child,
// or spend minutes and gigabytes on an overflow of 2^24 pages (its
// consistency check records every page a page claims). None of that can
// be recovered from inside bbolt: the check runs on a goroutine of its
// own. So before bbolt reads any page but the metas, walkPages reads the
// tree from the file with bounds-checked slices, in time linear in the
// file, and refuses the first page that does not add up.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"os"
	"slices"
)

// bbolt's on-disk layout (go.etcd.io/bbolt/internal/common), native byte
// order.
const (
	pageHeaderSize   = 16 // id u64, flags u16, count u16, overflow u32
	pageElementSize  = 16 // branch: pos, ksize u32, child u64; leaf: flags, pos, ksize, vsize u32
	bucketHeaderSize = 16 // root u64, sequence u64; an inline page follows when root is 0
	metaSize         = 64 // magic, version, page size, flags u32; root bucket; freelist, pgid, txid, checksum u64
	metaSumAt        = 56 // the checksum's offset in a meta
	metaMagic        = 0xED0CDAED
	metaVersion      = 2
	pageFlagBranch   = 0x01
	pageFlagLeaf     = 0x02
	pageFlagMeta     = 0x04
	pageFlagFreelist = 0x10
	leafFlagBucket   = 0x01
	noFreelist       = math.MaxUint64
)

// fileMeta is the part of a meta page the walk needs.
type fileMeta struct {
	pageSize int
	root     uint64 // the root bucket's page
	freelist uint64 // noFreelist when the freelist is not stored
	pgid     uint64 // the high water mark: pages [0, pgid) are in use or free
	txid     uint64
}

// readMeta reads the meta of page id; ok is false when it is not one bbolt
// would use (magic, version, checksum).
func readMeta(r io.ReaderAt, id uint64, pageSize int) (m fileMeta, ok bool) {
	var b [pageHeaderSize + metaSize]byte
	if _, err := r.ReadAt(b[:], int64(id)*int64(pageSize)); err != nil {
		return m, false
	}
	p := b[pageHeaderSize:]
	ne := binary.NativeEndian
	if ne.Uint32(p) != metaMagic || ne.Uint32(p[4:]) != metaVersion || ne.Uint64(p[metaSumAt:]) != metaSum(p) {
		return m, false
	}
	return fileMeta{pageSize: int(ne.Uint32(p[8:])), root: ne.Uint64(p[16:]), freelist: ne.Uint64(p[32:]), pgid: ne.Uint64(p[40:]), txid: ne.Uint64(p[48:])}, true
}

// metaSum is bbolt's checksum of meta m (the bytes after the page
// header): FNV-64a of everything before the checksum field.
func metaSum(m []byte) uint64 {
	h := fnv.New64a()
	h.Write(m[:metaSumAt])
	return h.Sum64()
}

// chooseMeta picks the meta page bbolt uses (DB.meta): the valid one with
// the higher transaction id. pageSize is the one bbolt found.
func chooseMeta(r io.ReaderAt, pageSize int) (fileMeta, bool) {
	m0, ok0 := readMeta(r, 0, pageSize)
	m1, ok1 := readMeta(r, 1, pageSize)
	if ok1 && (!ok0 || m1.txid > m0.txid) {
		return m1, true
	}
	return m0, ok0
}

// walkPages checks the page structure of the data file at path, which
// bbolt has opened with pageSize: every page reachable from the chosen
// meta lies below the high water mark and within the file, names its own
// id, has a type bbolt expects there, holds its elements within its bytes,
// and is used once. It reads each page once.
func walkPages(path string, pageSize int) error {
	if pageSize < pageHeaderSize+metaSize {
		// bbolt takes the page size from a meta page; its checksum
		// does not make it sane.
		return fmt.Errorf("meta page says pages of %d bytes", pageSize)
	}
	f, err := os.Open(path) //nolint:gosec // the operator's own data file
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	m, ok := chooseMeta(f, pageSize)
	if !ok {
		return errors.New("no valid meta page")
	}
	w := &pageWalk{r: f, meta: m, pageSize: uint64(pageSize)}
	return w.run(uint64(fi.Size()))
}

// pageWalk is one walk of a file: the pages seen so far, one bit each.
type pageWalk struct {
	r        io.ReaderAt
	meta     fileMeta
	pageSize uint64
	seen     []uint64
	buf      []byte // the page being read
}

func (w *pageWalk) run(size uint64) error {
	m := w.meta
	switch {
	case m.pageSize != int(w.pageSize):
		return fmt.Errorf("meta page says pages of %d bytes, the file was opened with %d", m.pageSize, w.pageSize)
	case m.pgid < 3 || m.pgid > size/w.pageSize:
		return fmt.Errorf("meta page counts %d pages, the file holds %d (cut short?)", m.pgid, size/w.pageSize)
	case m.root < 2 || m.root >= m.pgid:
		return fmt.Errorf("root bucket page %d out of range [2, %d)", m.root, m.pgid)
	case m.freelist != noFreelist && (m.freelist < 2 || m.freelist >= m.pgid):
		return fmt.Errorf("freelist page %d out of range [2, %d)", m.freelist, m.pgid)
	}
	w.seen = make([]uint64, (m.pgid+63)/64)
	for id := range uint64(2) {
		if _, err := w.page(id, pageFlagMeta); err != nil {
			return err
		}
	}
	if m.freelist != noFreelist {
		if err := w.freelist(m.freelist); err != nil {
			return err
		}
	}
	// Depth first over branch pages and bucket roots, without recursion:
	// a damaged tree may be as deep as the file has pages.
	stack := []uint64{m.root}
	for len(stack) > 0 {
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		p, err := w.page(id, pageFlagBranch, pageFlagLeaf)
		if err != nil {
			return err
		}
		if stack, err = w.elements(id, p, stack); err != nil {
			return err
		}
	}
	return nil
}

// mark records pages id..id+overflow as used; false if one already was.
func (w *pageWalk) mark(id uint64, overflow uint32) bool {
	fresh := true
	for i := id; i <= id+uint64(overflow); i++ {
		bit := uint64(1) << (i % 64)
		if w.seen[i/64]&bit != 0 {
			fresh = false
		}
		w.seen[i/64] |= bit
	}
	return fresh
}

// page reads page id with its overflow pages, checking its header. The
// bytes are w.buf's, good until the next call: one buffer for the walk.
func (w *pageWalk) page(id uint64, types ...uint16) ([]byte, error) {
	if uint64(cap(w.buf)) < w.pageSize {
		w.buf = make([]byte, w.pageSize)
	}
	p := w.buf[:w.pageSize]
	if _, err := w.r.ReadAt(p, int64(id*w.pageSize)); err != nil {
		return nil, fmt.Errorf("page %d: %w", id, err)
	}
	ne := binary.NativeEndian
	gotID, flags, overflow := ne.Uint64(p), ne.Uint16(p[8:]), ne.Uint32(p[12:])
	if gotID != id {
		return nil, fmt.Errorf("page %d: its header says page %d", id, gotID)
	}
	if !slices.Contains(types, flags) {
		return nil, fmt.Errorf("page %d: type %#x, want one of %#x", id, flags, types)
	}
	if uint64(overflow) >= w.meta.pgid-id {
		return nil, fmt.Errorf("page %d: an overflow of %d pages runs past the %d pages in use", id, overflow, w.meta.pgid)
	}
	if !w.mark(id, overflow) {
		return nil, fmt.Errorf("page %d: a page is used more than once (within %d..%d)", id, id, id+uint64(overflow))
	}
	if overflow == 0 {
		return p, nil
	}
	n := (uint64(overflow) + 1) * w.pageSize
	if uint64(cap(w.buf)) < n {
		w.buf = append(make([]byte, 0, n), p...)
	}
	p = w.buf[:n]
	if _, err := w.r.ReadAt(p[w.pageSize:], int64((id+1)*w.pageSize)); err != nil {
		return nil, fmt.Errorf("page %d: %w", id, err)
	}
	return p, nil
}

// freelist checks the freelist page: its ids fit in it and are pages in
// range. (Which are free is bbolt's check's business.)
func (w *pageWalk) freelist(id uint64) error {
	p, err := w.page(id, pageFlagFreelist)
	if err != nil {
		return err
	}
	ne := binary.NativeEndian
	first, count := uint64(0), uint64(ne.Uint16(p[10:]))
	if count == 0xffff { // the count is the first element
		first, count = 1, ne.Uint64(p[pageHeaderSize:])
	}
	room := uint64(len(p)-pageHeaderSize) / 8
	if count > room || first+count > room {
		return fmt.Errorf("freelist page %d: %d ids do not fit in its %d bytes", id, count, len(p))
	}
	for i := first; i < first+count; i++ {
		if free := ne.Uint64(p[pageHeaderSize+8*i:]); free < 2 || free >= w.meta.pgid {
			return fmt.Errorf("freelist page %d: free page %d out of range [2, %d)", id, free, w.meta.pgid)
		}
	}
	return nil
}

// elements checks the elements of branch or leaf page p (page id, or 0
// for an inline bucket's page) and adds the pages they point to to stack.
func (w *pageWalk) elements(id uint64, p []byte, stack []uint64) ([]uint64, error) {
	ne := binary.NativeEndian
	flags, count := ne.Uint16(p[8:]), int(ne.Uint16(p[10:]))
	if pageHeaderSize+count*pageElementSize > len(p) {
		return nil, fmt.Errorf("page %d: %d elements do not fit in its %d bytes", id, count, len(p))
	}
	if flags == pageFlagBranch && count == 0 {
		// bbolt's cursor descends through element 0 of a branch page
		// without looking at the count.
		return nil, fmt.Errorf("page %d: a branch page with no elements", id)
	}
	for i := range count {
		at := pageHeaderSize + i*pageElementSize
		e := p[at : at+pageElementSize]
		// The key (and value) lie at pos bytes from the element.
		pos, n := uint64(ne.Uint32(e[4:])), uint64(ne.Uint32(e[8:]))
		if flags == pageFlagBranch {
			pos, n = uint64(ne.Uint32(e)), uint64(ne.Uint32(e[4:]))
		} else {
			n += uint64(ne.Uint32(e[12:]))
		}
		if uint64(at)+pos+n > uint64(len(p)) {
			return nil, fmt.Errorf("page %d: element %d (%d bytes at %d) runs past the page's %d bytes", id, i, n, pos, len(p))
		}
		if flags == pageFlagBranch {
			child := ne.Uint64(e[8:])
			if child < 2 || child >= w.meta.pgid {
				return nil, fmt.Errorf("page %d: element %d points to page %d, out of range [2, %d)", id, i, child, w.meta.pgid)
			}
			stack = append(stack, child)
			continue
		}
		if ne.Uint32(e)&leafFlagBucket == 0 {
			continue
		}
		kv := p[uint64(at)+pos : uint64(at)+pos+n]
		v := kv[ne.Uint32(e[8:]):]
		if len(v) < bucketHeaderSize {
			return nil, fmt.Errorf("page %d: element %d is a bucket of %d bytes, shorter than its header", id, i, len(v))
		}
		root := ne.Uint64(v)
		if root != 0 {
			if root < 2 || root >= w.meta.pgid {
				return nil, fmt.Errorf("page %d: element %d is a bucket at page %d, out of range [2, %d)", id, i, root, w.meta.pgid)
			}
			stack = append(stack, root)
			continue
		}
		// An inline bucket: a leaf page inside the value, each level
		// shorter than the one holding it.
		inline := v[bucketHeaderSize:]
		if len(inline) < pageHeaderSize || ne.Uint16(inline[8:]) != pageFlagLeaf {
			return nil, fmt.Errorf("page %d: element %d is an inline bucket that is not a leaf page", id, i)
		}
		var err error
		if stack, err = w.elements(id, inline, stack); err != nil {
			return nil, err
		}
	}
	return stack, nil
}
