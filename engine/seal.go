package engine

import (
	"encoding/binary"
	"hash/crc32"
)

// The workspace's state files (graph.bin, results.bin, last-built.bin and
// noop.bin) end in a CRC-32C of what precedes it. A file torn by a crash
// or with a flipped bit then reads as missing and the command rebuilds it,
// so mlb never acts on a command line, digest or mode that mlb did not
// write.

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// seal appends the checksum of data to it.
func seal(data []byte) []byte {
	return binary.LittleEndian.AppendUint32(data, crc32.Checksum(data, castagnoli))
}

// unseal returns data without its checksum, or errBadEncoding when the
// checksum does not match.
func unseal(data []byte) ([]byte, error) {
	if len(data) < 4 {
		return nil, errBadEncoding
	}
	body, sum := data[:len(data)-4], binary.LittleEndian.Uint32(data[len(data)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return nil, errBadEncoding
	}
	return body, nil
}
