// Package remote shares mlb's cache through a bucket, so that CI jobs and
// teammates reuse what anyone already built. Cloud buckets are opened
// through gocloud.dev/blob: s3:// (AWS S3 or any S3-compatible server),
// gs:// (Google Cloud Storage) and azblob:// (Azure Blob Storage). Their
// drivers are linked only with the mlb_cloud build tag. Without it, Open
// returns a *HelperError that names the program to hand the command over
// to. file:// (a folder, such as a network share) needs no driver.
//
// # Layout
//
// Under the bucket, and under the URL's path for s3, gs and azblob URLs:
//
//	blobs/ab/abcd….zst          a blob, zstd-compressed, named by the
//	                            BLAKE3 digest of its uncompressed bytes
//	actions/ab/abcd…            an action result, as the local store
//	                            keeps it: zstd-compressed JSON
//	runs/<time>-<hash>.json.zst a run record, as the local store keeps it
//
// # Guarantees
//
//   - Every object is written whole or not at all: S3, GCS and Azure make
//     an object visible only when its upload completes, and a file remote
//     writes a temporary file and renames it. A failed upload is aborted
//     before it completes.
//   - Writers upload an action result only after every blob it names, and
//     a run record only after the blobs and action results of its stages.
//     A killed upload therefore leaves at most blobs that no action
//     result names.
//   - Every downloaded blob is decompressed into a temporary file while it
//     is hashed and enters the local store only when it hashes to its
//     name. A mismatch is a *cache.CorruptError, a missing object wraps
//     cache.ErrNotFound, and both are cache misses; any other failure is a
//     failure of the remote, wrapped in an *Error.
//   - Uploads read blobs from the local store and hash them on the way, so
//     a blob damaged on the local disk never reaches the remote.
//
// Credentials come only from each SDK's standard environment variables
// and configuration files. A URL with user info is rejected, and the URL
// is shown without its query in every message.
package remote
