//go:build !linux

package board

// startFileWatch converts every simConvertEvery: this system has no inotify.
func startFileWatch(path string, convert func() error) *siminput {
	return startTicking(convert)
}
