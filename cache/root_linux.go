package cache

import (
	"io/fs"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Root is an open folder, usually a workspace, that paths are statted
// relative to. The kernel then resolves only the part of each path below
// the folder: a no-op build stats every input, and for paths a few levels
// below a deep workspace that saves about a quarter of each stat.
type Root struct {
	fd   int
	path string
}

// OpenRoot opens the folder at path.
func OpenRoot(path string) (*Root, error) {
	fd, err := unix.Open(path, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	return &Root{fd: fd, path: path}, nil
}

// Close closes the folder.
func (r *Root) Close() error { return unix.Close(r.fd) }

// Stat returns the FileInfo of the file at name, relative to the root
// unless absolute, following symlinks as os.Stat does. Its Sys is a
// *syscall.Stat_t with the fields the file-state index reads.
func (r *Root) Stat(name string) (fs.FileInfo, error) {
	var st unix.Stat_t
	err := unix.Fstatat(r.fd, name, &st, 0)
	for err == unix.EINTR {
		err = unix.Fstatat(r.fd, name, &st, 0)
	}
	if err != nil {
		path := name
		if !filepath.IsAbs(name) {
			path = filepath.Join(r.path, name)
		}
		return nil, &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	return &statInfo{
		name: filepath.Base(name),
		mode: fileMode(st.Mode),
		sys: syscall.Stat_t{
			Dev: st.Dev, Ino: st.Ino, Mode: st.Mode, Uid: st.Uid, Gid: st.Gid, Rdev: st.Rdev, Size: st.Size,
			Mtim: syscall.Timespec{Sec: st.Mtim.Sec, Nsec: st.Mtim.Nsec},
			Ctim: syscall.Timespec{Sec: st.Ctim.Sec, Nsec: st.Ctim.Nsec},
		},
	}, nil
}

// statInfo is the fs.FileInfo of a Root.Stat.
type statInfo struct {
	name string
	mode fs.FileMode
	sys  syscall.Stat_t
}

func (s *statInfo) Name() string       { return s.name }
func (s *statInfo) Size() int64        { return s.sys.Size }
func (s *statInfo) Mode() fs.FileMode  { return s.mode }
func (s *statInfo) ModTime() time.Time { return time.Unix(s.sys.Mtim.Sec, s.sys.Mtim.Nsec) }
func (s *statInfo) IsDir() bool        { return s.mode.IsDir() }
func (s *statInfo) Sys() any           { return &s.sys }
