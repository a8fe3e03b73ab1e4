//go:build mlb_gcs

package remote

import _ "gocloud.dev/blob/gcsblob" // gs:// URLs

// gcsLinked reports whether this program has the gs:// driver.
const gcsLinked = true
