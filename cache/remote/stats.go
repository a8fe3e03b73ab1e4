package remote

import "sync/atomic"

// Stats counts a remote's blob transfers since it was opened. Action
// results and run records are not counted: they are small, and a build
// reads one action result per stage.
type Stats struct {
	UploadedBlobs   int64 // blobs written to the remote
	UploadedBytes   int64 // their size before compression
	SentBytes       int64 // compressed bytes sent, aborted uploads included
	DownloadedBlobs int64 // blobs verified and added to the local store
	DownloadedBytes int64 // their size
	ReceivedBytes   int64 // compressed bytes received, rejected blobs included

	PendingUploads   int64 // blobs waiting for or in an upload now
	PendingDownloads int64 // blobs waiting for or in a download now
}

type counters struct {
	upBlobs, upBytes, sent         atomic.Int64
	downBlobs, downBytes, received atomic.Int64
	pendingUp, pendingDown         atomic.Int64
}

// Stats returns the transfer counts so far.
func (r *Remote) Stats() Stats {
	c := &r.stats
	return Stats{
		UploadedBlobs: c.upBlobs.Load(), UploadedBytes: c.upBytes.Load(), SentBytes: c.sent.Load(),
		DownloadedBlobs: c.downBlobs.Load(), DownloadedBytes: c.downBytes.Load(), ReceivedBytes: c.received.Load(),
		PendingUploads: c.pendingUp.Load(), PendingDownloads: c.pendingDown.Load(),
	}
}
