package remote

import "fmt"

// GCSHelper is the program that serves gs:// remotes. The Google Cloud
// Storage client registers gRPC and protobuf types when a program starts,
// which cost every mlb command about 15 ms and 18 MiB. So the gs:// driver
// is linked only into a second build of mlb, made with the mlb_gcs build
// tag, and mlb hands a command with a gs:// remote over to it, as git
// hands https remotes to git-remote-https.
const GCSHelper = "mlb-gcs"

// HelperError reports a remote URL whose driver this program lacks; the
// program named Helper has it.
type HelperError struct {
	URL    string
	Helper string
}

func (e *HelperError) Error() string {
	return fmt.Sprintf("remote %s is served by %s, which this program cannot run", e.URL, e.Helper)
}
