package remote

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// unparsableURL is the placeholder that messages show for a URL that does
// not parse and may contain a secret (see Redact).
const unparsableURL = "(unparsable URL)"

// URLError reports a malformed remote URL, which the user must correct.
// Such a URL does not parse, contains user info, has a scheme mlb does not
// serve, names no bucket, or has a query parameter its scheme does not
// take. A well-formed URL whose remote fails returns an *Error instead.
type URLError struct {
	URL     string // the URL as Redact shows it
	Problem string // the mistake, such as `unknown scheme "ftp"`
	Fix     string // the form to use instead, such as "use file:///ABSOLUTE/PATH"
}

func (e *URLError) Error() string {
	return fmt.Sprintf("invalid remote URL %s: %s: %s", e.QuotedURL(), e.Problem, e.Fix)
}

// QuotedURL returns the URL quoted for a message, so that an empty or
// blank URL shows. The placeholder for an unparsable URL that may hold a
// secret is returned without quotes, since it is not the value given.
func (e *URLError) QuotedURL() string {
	if e.URL == unparsableURL {
		return e.URL
	}
	return strconv.Quote(e.URL)
}

// location is the folder or bucket that a well-formed remote URL names.
type location struct {
	name string // the URL as Redact shows it

	// A folder for a file URL, else a cloud URL without its path, which
	// becomes a prefix of every key.
	folder   *fileConfig // nil for a cloud URL
	cloudURL string      // the URL gocloud opens
	prefix   string      // the folder in the bucket, "" or ending in a slash
}

// CheckURL returns a *URLError when rawURL is malformed, as Open would,
// and nil otherwise. It sets up no client and does not contact the remote,
// so a cloud URL of valid form passes even in a program without the cloud
// drivers. The query parameters of a cloud URL are left to gocloud, which
// checks them when Open sets up the client.
func CheckURL(rawURL string) error {
	_, err := parseURL(rawURL)
	return err
}

// parseURL checks rawURL and returns its location. For s3://, gs:// and
// azblob:// URLs the host is the bucket and the path, if any, a folder in
// it. A file:// URL names a folder (see parseFileURL).
func parseURL(rawURL string) (location, error) {
	name := Redact(rawURL)
	u, err := url.Parse(rawURL)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error repeats the URL, user info and all
		}
		return location{}, &URLError{URL: name, Problem: err.Error(), Fix: useSchemes()}
	}
	if u.User != nil {
		return location{}, &URLError{URL: name, Problem: "contains user info, left out of this message",
			Fix: "remove it, and give credentials through the environment or the cloud SDK's configuration files"}
	}

	loc := location{name: name}
	switch u.Scheme {
	case "s3", "gs", "azblob":
		if u.Host == "" {
			bucket := "BUCKET"
			if u.Scheme == "azblob" {
				bucket = "CONTAINER"
			}
			return location{}, &URLError{URL: name, Problem: "names no bucket",
				Fix: fmt.Sprintf("use %s://%s[/FOLDER]%s", u.Scheme, bucket, cloudHelperNote())}
		}

		// The path of a cloud URL is a folder inside the bucket. gocloud
		// would ignore it, so it becomes a key prefix.
		if prefix := strings.Trim(u.Path, "/"); prefix != "" {
			loc.prefix = prefix + "/"
		}
		u.Path, u.RawPath = "", ""
		loc.cloudURL = u.String()
	case "file":
		c, err := parseFileURL(u, name)
		if err != nil {
			return location{}, err
		}
		loc.folder = &c
	case "":
		return location{}, &URLError{URL: name, Problem: "no scheme", Fix: useSchemes()}
	default:
		return location{}, &URLError{URL: name, Problem: fmt.Sprintf("unknown scheme %q", u.Scheme), Fix: useSchemes()}
	}
	return loc, nil
}

// useSchemes returns the forms of the URLs mlb serves, for a URL whose
// scheme is missing or unknown.
func useSchemes() string {
	return "use s3://BUCKET[/FOLDER], gs://BUCKET[/FOLDER] or azblob://CONTAINER[/FOLDER]" + cloudHelperNote() + ", or file:///ABSOLUTE/PATH"
}

// cloudHelperNote returns, in a program without the cloud drivers, the
// note that cloud URLs are served by the helper program.
func cloudHelperNote() string {
	if cloudLinked {
		return ""
	}
	return fmt.Sprintf(" (served by %s, mlb built with -tags %s)", CloudHelper, CloudBuildTag)
}
