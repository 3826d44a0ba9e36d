// Package outbox is the device's durable FIFO of telemetry records: every
// reading is appended here, connected or not, and the publisher reads it back
// in seq order, acknowledging each record once the broker has confirmed it
// (its PUBACK, not a paho token, which can complete after a reconnect without
// proof of delivery).
//
// # On disk
//
// A directory holds segment files and one state file:
//
//   - NNNNNNNNNNNNNNNNNNNN.seg, named by the seq it was created for, holds
//     records back to back, each [length uint32][crc32c uint32][seq uint64]
//     [payload], little-endian, the CRC-32C covering seq and payload. A
//     segment rolls over at Options.SegmentBytes (4 MiB) and is deleted whole
//     once every record in it is acknowledged and that acknowledgement is
//     on the device, so removal never rewrites data (tidwall/wal's
//     TruncateFront rewrites up to 55 KB per record removed).
//   - state holds the ack position, the seq reservation and the boot id in
//     two checksummed slots in separate 4 KiB pages, written alternately, so
//     that a torn write of one leaves the other valid.
//
// The directory is fsynced after files are created and removed.
//
// # Damage
//
// Open never refuses damaged data, unlike tidwall/wal after a torn tail: it
// reads every record, and at the first torn or corrupt one (bad length,
// checksum, or a seq not above the one before) it truncates that segment,
// adds the bytes cut to Stats.Damaged and logs the segment, offset and the
// seqs the loss lies between. Records before the damage, and later segments,
// are kept. Damage found by Next after Open is handled the same way, and so
// is a media error (EIO) reading a record: one bad sector on an SD card must
// not keep the daemon down. Other I/O errors fail Open, with a message saying
// what to fix.
//
// # Seqs
//
// NextSeq never goes back. Before a seq is used, a ceiling above it is
// written to the state file and synced (a reservation of 16384 seqs, so at
// one reading every 5 s about one extra sync a day). Close writes the exact
// next seq as a clean-shutdown mark. Every state write also carries the
// kernel's boot id (Options.BootID), which tells the two kinds of unclean
// stop apart at the next Open:
//
//   - the process crashed (SIGKILL, a panic) and the machine stayed up: the
//     boot id is the same, the page cache kept every record and ack written,
//     so the last stored seq is the last handed out, and seqs continue at
//     the highest of the last record's seq + 1 and the ack position + 1,
//     with no gap;
//   - the machine went down (power cut, kernel panic, reboot without a clean
//     stop), or the boot id is unknown: seqs resume at the ceiling as well.
//     That leaves a gap, which means the machine went down, never a reuse
//     or a loss. The ceiling is what makes this hold under SyncGrouped,
//     where a record can be published from the page cache before it reaches
//     the device and be lost there.
//
// So a consumer sees a gap only where the machine itself went down. (Before
// the boot id, every crash skipped to the ceiling; state slots written
// without one, version 1, are read as written in an unknown boot.)
//
// # What a crash or a power cut loses
//
// When Append returns, the record has been written to the operating system,
// and an ack advances the state file at once; so a crash of the process (or
// SIGKILL) loses nothing in either mode: after restart every record not
// acknowledged is delivered again, in order.
//
// A power cut (or kernel panic) loses what was not yet on the device. The
// outbox forces to the device what the broker does not have; what it has
// confirmed is left to the kernel's write-back (about 30 s on Linux):
//
//   - SyncGrouped (default): a record not acknowledged is synced at most
//     SyncEvery (1 s) after its append, with one fdatasync for every record
//     appended meanwhile, which keeps an SD card's write count low (Telegraf
//     18085, ESPHome 3648). A power cut loses the records of the last
//     SyncEvery plus one sync; any of those already published are at the
//     server, and their seqs are never reused.
//   - SyncAlways: nothing that Append returned for; the record being
//     appended at the cut may be torn and is cut by Open. Each record costs
//     an fdatasync (about 0.6 ms here, 5-50 ms on an SD card).
//
// A record the broker acknowledged before its sync was due is not synced: a
// connected device's reading costs no device flush at all. A power cut may
// lose such records, or leave them torn (Open cuts the tail); they were
// delivered. The ack position is synced before a segment is deleted, and by
// Sync and Close; a power cut may forget the acks of the last write-back
// interval, and the records still on the device are sent again. Consumers
// drop duplicates by seq.
//
// # Cap
//
// Options.MaxBytes (64 MiB, weeks of 5 s readings) caps the backlog. When an
// append would pass it, the oldest whole segments are dropped and the
// unacknowledged records in them counted in Stats.Dropped and logged: the
// newest readings are kept. A full disk below the cap is not treated as a cap:
// Append returns the error, stores nothing, and works again once there is room.
//
// # Memory
//
// The outbox keeps a few counters per segment, one read buffer (128 KiB) and
// 40 bytes per record delivered by Next and not yet acknowledged; never the
// backlog itself.
//
// # Concurrency
//
// All methods are safe for concurrent use; the intended users are one
// appending goroutine and one publishing goroutine, woken by Appended. Open
// starts one goroutine, the grouped sync, and Close stops it and waits for it.
// A directory is locked (flock) by the process that opened it.
//
// # Where things are
//
// outbox.go has the types, Open, Stats and Close; load.go what Open reads
// back from the disk; write.go Append, the seq reservation, segment roll-over
// and the cap; read.go Next, Ack and Rewind; sync.go the grouped sync and the
// deletion of acknowledged segments; segment.go, record.go and state.go the
// on-disk formats.
package outbox
