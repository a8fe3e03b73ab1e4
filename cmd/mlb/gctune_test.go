package main

import "testing"

func TestGCPercentFor(t *testing.T) {
	tests := []struct {
		live uint64
		want int
	}{
		{0, 100},
		{minHeap, 1100},    // next collection at 48 MiB
		{8 << 20, 500},     // 8 MiB live: 6×
		{16 << 20, 200},    // 16 MiB live: 3×
		{gcFloor / 2, 100}, // from here on, Go's default
		{200 << 20, 100},
	}
	for _, tt := range tests {
		got := gcPercentFor(tt.live)
		if got != tt.want {
			t.Errorf("gcPercentFor(%d) = %d, want %d", tt.live, got, tt.want)
		}
		if tt.live > 0 && got > 100 {
			if next := tt.live * uint64(100+got) / 100; next != gcFloor {
				t.Errorf("gcPercentFor(%d) puts the next collection at %d, want %d", tt.live, next, gcFloor)
			}
		}
	}
}
