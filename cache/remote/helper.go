package remote

import "fmt"

// CloudHelper is the program that serves s3://, gs:// and azblob://
// remotes. The cloud SDKs that gocloud.dev/blob links for them (AWS,
// Azure, Google Cloud with gRPC and protobuf) run package initialisers and
// register types when a program starts. That cost every mlb command,
// remote or not, about half its start-up: mlb --version used 8 ms of CPU
// with them and 4 ms without (perf stat -r 50 on a 2-core AMD EPYC). So
// the cloud drivers are linked only into a second build of mlb, made with
// the mlb_cloud build tag, and mlb hands a command with a cloud remote
// over to it, as git hands https remotes to git-remote-https. file://
// remotes need no SDK and are served by both.
const CloudHelper = "mlb-cloud"

// CloudBuildTag is the build tag that links the cloud drivers.
const CloudBuildTag = "mlb_cloud"

// HelperError reports a remote URL whose driver this program lacks; the
// program named Helper has it.
type HelperError struct {
	URL    string
	Helper string
}

func (e *HelperError) Error() string {
	return fmt.Sprintf("remote %s needs %s: this program has no driver for it", e.URL, e.Helper)
}
