package tables

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
)

// Digester computes the digest of the contract: hex SHA-256 over every key
// and value in key order, each length-prefixed. The exact encoding, for every
// record in ascending key order, is
//
//	uint64 big-endian len(key) || key || uint64 big-endian len(value) || value
//
// (8-byte big-endian lengths). An empty table digests to the SHA-256 of
// nothing (e3b0c442...).
type Digester struct {
	h       hash.Hash
	records int64
	bytes   int64
	buf     [8]byte
}

// NewDigester returns an empty Digester.
func NewDigester() *Digester { return &Digester{h: sha256.New()} }

// Add adds one record; records must be added in ascending key order.
func (d *Digester) Add(key, value []byte) {
	binary.BigEndian.PutUint64(d.buf[:], uint64(len(key)))
	d.h.Write(d.buf[:])
	d.h.Write(key)
	binary.BigEndian.PutUint64(d.buf[:], uint64(len(value)))
	d.h.Write(d.buf[:])
	d.h.Write(value)
	d.records++
	d.bytes += int64(len(key) + len(value))
}

// Records is the number of records added.
func (d *Digester) Records() int64 { return d.records }

// Bytes is the sum of the key and value lengths added.
func (d *Digester) Bytes() int64 { return d.bytes }

// Sum is the hex digest of what was added so far.
func (d *Digester) Sum() string { return hex.EncodeToString(d.h.Sum(nil)) }

// Result is the digest, record count and bytes as a VerifyResult.
func (d *Digester) Result() VerifyResult {
	return VerifyResult{Records: d.records, Bytes: d.bytes, Digest: d.Sum()}
}
