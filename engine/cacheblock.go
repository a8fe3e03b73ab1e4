package engine

import "github.com/hashicorp/hcl/v2"

// CacheBlock is the pipeline's cache block: settings for the shared cache.
type CacheBlock struct {
	Remote string // remote cache URL, empty when none
	Range  hcl.Range

	// RemoteRange is the range of the remote attribute's value, for an
	// error about the URL. It is the zero Range when the block has no
	// remote attribute.
	RemoteRange hcl.Range
}

var cacheSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "remote"}},
}

func decodeCache(block *hcl.Block) (*CacheBlock, hcl.Diagnostics) {
	c := &CacheBlock{Range: block.DefRange}
	content, diags := block.Body.Content(cacheSchema)
	if attr, ok := content.Attributes["remote"]; ok {
		diags = append(diags, decodeString(attr, &c.Remote)...)
		c.RemoteRange = attr.Expr.Range()
	}
	return c, diags
}
