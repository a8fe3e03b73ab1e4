//go:build !mlb_cloud

package remote

import "context"

// cloudLinked reports whether this program has the drivers for s3://,
// gs:// and azblob:// remotes.
const cloudLinked = false

// openCloud is never called in a program without the cloud drivers: Open
// returns a *HelperError for their URLs instead.
func openCloud(context.Context, string, string) (bucket, error) {
	panic("remote: openCloud called without the cloud drivers linked")
}
