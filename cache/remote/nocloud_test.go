//go:build !mlb_cloud

package remote

import (
	"context"
	"errors"
	"testing"
)

// cloudOpenURLTests are the cases of TestOpenURLs that need the drivers:
// none here, since without them every cloud URL of valid form gets the
// *HelperError that TestOpenCloudNeedsHelper checks.
var cloudOpenURLTests []openURLTest

// TestOpenCloudNeedsHelper checks that a program without the cloud
// drivers sends every cloud URL of valid form to mlb-cloud, naming it
// without its query.
func TestOpenCloudNeedsHelper(t *testing.T) {
	tests := map[string]string{
		"s3://bucket/folder?endpoint=http://127.0.0.1:1&region=us-east-1": "s3://bucket/folder",
		"gs://bucket":                 "gs://bucket",
		"azblob://container/a/b?sig=": "azblob://container/a/b",
	}
	for rawURL, name := range tests {
		_, err := Open(context.Background(), rawURL, Options{})
		var he *HelperError
		if !errors.As(err, &he) {
			t.Errorf("Open(%q) = %v, want a *HelperError", rawURL, err)
			continue
		}
		if he.URL != name || he.Helper != "mlb-cloud" {
			t.Errorf("Open(%q) = %+v, want URL %q and helper mlb-cloud", rawURL, he, name)
		}
	}
}
