package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// flattenParams turns a run's params JSON into dotted paths and their values
// as text: {"data":{"train":"x"}} gives data.train = x. A number keeps the
// digits it was recorded with, so that params differing after the sixth
// significant digit still differ and a filter can match them exactly.
func flattenParams(raw json.RawMessage) map[string]string {
	out := map[string]string{}
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if dec.Decode(&v) != nil {
		return out
	}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch t := v.(type) {
		case map[string]any:
			for k, e := range t {
				name := k
				if prefix != "" {
					name = prefix + "." + k
				}
				walk(name, e)
			}
		case string:
			out[prefix] = t
		case nil:
			out[prefix] = "null"
		case json.Number:
			out[prefix] = t.String()
		default:
			b, _ := json.Marshal(t)
			out[prefix] = string(b)
		}
	}
	walk("", v)
	return out
}

func sortedNames[V any](m map[string]V) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

func formatParams(p map[string]string) string {
	var parts []string
	for _, k := range sortedNames(p) {
		parts = append(parts, fmt.Sprintf("%s=%s", k, p[k]))
	}
	return strings.Join(parts, " ")
}
