// Package i2ccuse serves an i2c.Bus as a Linux I²C character device,
// /dev/i2c-N, through CUSE (character devices in userspace, /dev/cuse), so
// that unchanged programs, periph's sysfs I²C driver among them, talk to an
// emulated device through the kernel's ioctl path.
//
// It answers what i2c-dev's users call: I2C_FUNCS (plain I²C) and I2C_RDWR
// (a list of messages, each a write or a read, with repeated starts between
// them). A write message followed by a read of the same address is one
// transaction of the bus (i2c.Bus.Tx with both buffers), as the repeated
// start makes it on the wire; any other message is a transaction of its own.
// An error from the bus that wraps a syscall.Errno reaches the program as
// that errno (EREMOTEIO for an address nobody acknowledges, as the Raspberry
// Pi's controller reports it); any other error as EIO.
//
// # Protocol
//
// The server opens /dev/cuse and answers CUSE_INIT with the device name
// (DEVNAME=i2c-N) and CUSE_UNRESTRICTED_IOCTL, since I2C ioctl numbers do not
// encode their argument's size. devtmpfs then makes /dev/i2c-N (under
// /sys/devices/virtual/cuse, not /sys/bus/i2c). An unrestricted ioctl comes
// with no data at first; the server asks for the memory it needs with
// FUSE_IOCTL_RETRY replies, as the kernel's fs/fuse/ioctl.c describes: the
// 16-byte i2c_rdwr_ioctl_data at the argument, then the i2c_msg array it
// points to, then every write buffer as input and every read buffer as
// output. FUSE_POLL is answered with ENOSYS, so the kernel reports the
// device always ready (Go's os.OpenFile registers files with epoll).
//
// Only Linux has CUSE. Messages are laid out for the architecture the
// server is built for, which must be the programs' (no 32-bit compat
// ioctls).
package i2ccuse
