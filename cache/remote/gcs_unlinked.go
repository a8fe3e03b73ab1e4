//go:build !mlb_gcs

package remote

// gcsLinked reports whether this program has the gs:// driver.
const gcsLinked = false
