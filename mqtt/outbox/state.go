package outbox

import (
	"encoding/binary"
	"encoding/hex"
	"hash/crc32"
	"strings"
)

// The state file holds the ack position and the seq reservation in two
// slots, written alternately, each in its own 4 KiB page so that a torn write
// (or the page write-back of one) can never damage the other. On open the
// valid slot with the higher generation wins.
const (
	stateFile     = "state"
	stateSlotSize = 4096
	stateMagic    = "NLOB"
	// Version 2 adds the boot id; version 1 slots (without it) are still
	// read, as written in an unknown boot.
	stateVersion = 2
	stateLenV1   = 4 + 2 + 2 + 8 + 8 + 8 + 4
	stateLen     = 4 + 2 + 2 + 8 + 8 + 8 + 16 + 4
	flagClean    = 1 << 0
)

// bootID is the kernel's id of the boot a state was written in; zero when
// unknown.
type bootID [16]byte

// parseBootID reads the kernel's boot id (a UUID such as
// 0f0e5a2c-1b3d-4e5f-8a9b-0c1d2e3f4a5b); anything else is unknown.
func parseBootID(s string) bootID {
	var id bootID
	b, err := hex.DecodeString(strings.ReplaceAll(strings.TrimSpace(s), "-", ""))
	if err != nil || len(b) != len(id) {
		return bootID{}
	}
	copy(id[:], b)
	return id
}

// state is one slot's content.
type state struct {
	gen   uint64 // incremented on every write; picks the newer slot
	acked uint64 // every record with seq <= acked is acknowledged
	// ceiling is the floor for the next run's NextSeq. While running it is a
	// reservation: no seq at or above it has been handed out. After Close
	// (clean set) it is exactly the next seq.
	ceiling uint64
	clean   bool
	boot    bootID // the boot the state was written in: a crash within it lost nothing written
}

func (s state) encode() []byte {
	b := make([]byte, 0, stateLen)
	b = append(b, stateMagic...)
	b = binary.LittleEndian.AppendUint16(b, stateVersion)
	var flags uint16
	if s.clean {
		flags |= flagClean
	}
	b = binary.LittleEndian.AppendUint16(b, flags)
	b = binary.LittleEndian.AppendUint64(b, s.gen)
	b = binary.LittleEndian.AppendUint64(b, s.acked)
	b = binary.LittleEndian.AppendUint64(b, s.ceiling)
	b = append(b, s.boot[:]...)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// decodeState decodes one slot; ok is false for a torn, blank or foreign slot.
func decodeState(b []byte) (s state, ok bool) {
	if len(b) < 8 || string(b[:4]) != stateMagic {
		return state{}, false
	}
	n := 0
	switch binary.LittleEndian.Uint16(b[4:]) {
	case 1:
		n = stateLenV1
	case stateVersion:
		n = stateLen
	default:
		return state{}, false
	}
	if len(b) < n || crc32.Checksum(b[:n-4], castagnoli) != binary.LittleEndian.Uint32(b[n-4:]) {
		return state{}, false
	}
	flags := binary.LittleEndian.Uint16(b[6:])
	if flags&^flagClean != 0 {
		return state{}, false // written by a newer version: do not guess
	}
	s.clean = flags&flagClean != 0
	s.gen = binary.LittleEndian.Uint64(b[8:])
	s.acked = binary.LittleEndian.Uint64(b[16:])
	s.ceiling = binary.LittleEndian.Uint64(b[24:])
	if n == stateLen {
		copy(s.boot[:], b[32:48])
	}
	return s, true
}

// pickState returns the newer valid slot of the file's content, how many
// slots were valid and whether any slot held anything but zeros (to tell
// damage from a fresh file).
func pickState(file []byte) (s state, valid int, nonEmpty bool) {
	for i := 0; i < 2; i++ {
		lo := i * stateSlotSize
		if lo >= len(file) {
			break
		}
		slot := file[lo:min(len(file), lo+stateLen)]
		for _, c := range slot {
			if c != 0 {
				nonEmpty = true
				break
			}
		}
		if got, ok := decodeState(slot); ok {
			valid++
			if valid == 1 || got.gen > s.gen {
				s = got
			}
		}
	}
	return s, valid, nonEmpty
}

// slotOffset is where the write of generation gen goes: alternate slots, so
// the previous generation survives a torn write.
func slotOffset(gen uint64) int64 { return int64(gen%2) * stateSlotSize }
