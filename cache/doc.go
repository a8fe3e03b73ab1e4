// Package cache stores what mlb builds, addressed by content.
//
// # Terms
//
//   - Digest: the BLAKE3-256 hash of a byte string. A file's digest hashes its
//     contents; a directory's digest hashes its tree (see Tree).
//   - Blob: a byte string in the store, filed under its digest. A blob is
//     written to a temporary file while it is hashed, synced, and renamed
//     into place, so a blob that exists under a name is complete.
//   - Pack: one file holding many small blobs and an index of them (see
//     pack.go). A build puts its small source files in one pack, since
//     creating a file per blob costs more than the blob's bytes.
//   - ActionKey: the digest that identifies one execution of a stage: its
//     command, params, env and inputs. The engine computes it; this package
//     only files results under it.
//   - ActionResult: what a stage produced under one key: its outputs with
//     their digests, sizes and modes, its metrics, its log and its duration.
//     An action result is written only after every blob it names is stored.
//   - Index: the file-state index, which maps a file's (size, mtime, ctime,
//     inode, mode) to the digest hashed for it, so an unchanged file is
//     statted, not read.
//
// A blob that is missing, short or does not hash to its name is a cache
// miss with a reason, never a restored file. The store is safe for
// concurrent readers and writers in several processes: every write is a
// rename of a complete file, and writing the same blob twice is harmless.
package cache
