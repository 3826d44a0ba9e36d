package outbox

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"
)

// FuzzDecodeRecord feeds the record decoder arbitrary bytes, as a damaged
// disk can return: it must never panic or read past its input, and whatever
// it accepts must re-encode to the same bytes. The seeds (run by every plain
// go test) are good records, torn ones and ones with single flipped bits.
func FuzzDecodeRecord(f *testing.F) {
	good := appendRecord(nil, 1024, reading(1024))
	f.Add(good)
	f.Add(appendRecord(nil, 1, nil))
	f.Add(appendRecord(appendRecord(nil, 7, []byte("a")), 8, []byte("b")))
	f.Add(good[:headerLen-1])
	f.Add(good[:len(good)-1])
	f.Add(make([]byte, 64))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	for _, i := range []int{0, 3, 5, 9, headerLen + 2} {
		b := bytes.Clone(good)
		b[i] ^= 0x10
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		seq, payload, n, err := decodeRecord(b)
		if err != nil {
			var ce *corruptError
			if !errors.Is(err, errTorn) && !errors.As(err, &ce) {
				t.Fatalf("unexpected error type %T: %v", err, err)
			}
			if n != 0 || payload != nil {
				t.Fatalf("error with n=%d", n)
			}
			return
		}
		if n < headerLen || n > len(b) || seq == 0 || len(payload) > MaxPayload {
			t.Fatalf("accepted n=%d of %d, seq %d, payload %d", n, len(b), seq, len(payload))
		}
		if re := appendRecord(nil, seq, payload); !bytes.Equal(re, b[:n]) {
			t.Fatalf("re-encoding differs:\n%x\n%x", re, b[:n])
		}
	})
}

// FuzzRecordRoundTrip checks that every record Append can write decodes back
// to itself and that cutting it anywhere is reported as torn, never as a
// shorter good record.
func FuzzRecordRoundTrip(f *testing.F) {
	f.Add(uint64(1), []byte(nil))
	f.Add(uint64(1024), reading(1024))
	f.Add(uint64(1<<63), bytes.Repeat([]byte{0}, 300))
	f.Fuzz(func(t *testing.T, seq uint64, payload []byte) {
		if seq == 0 || len(payload) > MaxPayload {
			return
		}
		b := appendRecord(nil, seq, payload)
		gs, gp, n, err := decodeRecord(b)
		if err != nil || gs != seq || !bytes.Equal(gp, payload) || n != len(b) {
			t.Fatalf("round trip: seq %d n %d err %v", gs, n, err)
		}
		for _, cut := range []int{0, 1, headerLen - 1, headerLen, len(b) - 1} {
			if cut < 0 || cut >= len(b) {
				continue
			}
			if _, _, _, err := decodeRecord(b[:cut]); !errors.Is(err, errTorn) {
				t.Fatalf("cut at %d of %d: %v", cut, len(b), err)
			}
		}
	})
}

// FuzzDecodeState checks the state slot decoder the same way.
func FuzzDecodeState(f *testing.F) {
	good := state{gen: 3, acked: 10, ceiling: 16395, clean: true, boot: bootID{1, 2, 3}}.encode()
	f.Add(good)
	v1 := state{gen: 3, acked: 10, ceiling: 16395}.encode()[:stateLenV1]
	v1[4] = 1
	binary.LittleEndian.PutUint32(v1[stateLenV1-4:], crc32.Checksum(v1[:stateLenV1-4], castagnoli))
	f.Add(v1)
	f.Add(make([]byte, stateLen))
	b := bytes.Clone(good)
	b[12] ^= 1
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		s, ok := decodeState(b)
		if !ok {
			return
		}
		if binary.LittleEndian.Uint16(b[4:]) == 1 { // read as written in an unknown boot
			if back, ok := decodeState(s.encode()); !ok || back != s || s.boot != (bootID{}) {
				t.Fatalf("version 1 slot %x: decoded %+v, round trip %+v", b, s, back)
			}
			return
		}
		if re := s.encode(); !bytes.Equal(re, b[:stateLen]) {
			t.Fatalf("re-encoding differs:\n%x\n%x", re, b[:stateLen])
		}
	})
}
