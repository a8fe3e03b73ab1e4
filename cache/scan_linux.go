package cache

import (
	"io"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// dirHandle is an open folder. Looking at its files through its descriptor
// spares the kernel a walk of the full path for each of them.
type dirHandle struct {
	fd   int
	path string
}

func openDir(path string) (dirHandle, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	for err == unix.EINTR {
		fd, err = unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		return dirHandle{}, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return dirHandle{fd: fd, path: path}, nil
}

func (h dirHandle) close() { _ = unix.Close(h.fd) }

// readNames appends the names in the folder, without . and .., to names.
// It reads them with getdents(2) into buf.
func (h dirHandle) readNames(names []string, buf []byte) ([]string, error) {
	for {
		n, err := unix.ReadDirent(h.fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return names, &os.PathError{Op: "readdirent", Path: h.path, Err: err}
		}
		if n <= 0 {
			return names, nil
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
	}
}

func (h dirHandle) lstat(name string) (scanStat, error) {
	var st unix.Stat_t
	err := unix.Fstatat(h.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
	for err == unix.EINTR {
		err = unix.Fstatat(h.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
	}
	if err != nil {
		return scanStat{}, err
	}
	return statOf(&st), nil
}

func (h dirHandle) readlink(name string) (string, error) {
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(h.fd, name, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return "", err
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
}

// hashSmall returns the digest of the file name in the folder. The caller
// found it to have size bytes, fewer than a read buffer holds, and path is
// its full path, for errors.
//
// A read that returns exactly size bytes counts as the whole file, which
// saves the read(2) that would only report the end of the file. The digest
// then matches the stat data that the index records with it. Any other
// count means that the file changed since, so it is read again in full.
func (h dirHandle) hashSmall(name, path string, size int64) (Digest, error) {
	fd, err := unix.Openat(h.fd, name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	for err == unix.EINTR {
		fd, err = unix.Openat(h.fd, name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		return Digest{}, &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)

	bp := hashBuffers.Get().(*[]byte)
	n, err := fdReader(fd).Read(*bp)
	if (err == nil || err == io.EOF) && int64(n) == size && n < len(*bp) {
		d := SumBytes((*bp)[:n])
		hashBuffers.Put(bp)
		return d, nil
	}
	hashBuffers.Put(bp)
	if _, err := unix.Seek(fd, 0, io.SeekStart); err != nil {
		return Digest{}, &os.PathError{Op: "seek", Path: path, Err: err}
	}
	d, _, err := hashFD(fd, path)
	return d, err
}

// lstatPath returns the stat data of path, without following a final
// symlink.
func lstatPath(path string) (scanStat, error) {
	var st unix.Stat_t
	err := unix.Lstat(path, &st)
	for err == unix.EINTR {
		err = unix.Lstat(path, &st)
	}
	if err != nil {
		return scanStat{}, err
	}
	return statOf(&st), nil
}

// statOf returns the mode and index key of st. They equal those that
// Index.Lookup derives from the FileInfo of os.Lstat for the same file.
func statOf(st *unix.Stat_t) scanStat {
	mode := fileMode(st.Mode)
	return scanStat{mode: mode, key: indexEntry{
		Size:  st.Size,
		Mtime: st.Mtim.Nano(),
		Ctime: st.Ctim.Nano(),
		Inode: st.Ino,
		Mode:  uint32(mode),
	}}
}

// fileMode converts the st_mode of stat(2) to an fs.FileMode, as package
// os does for FileInfo.Mode.
func fileMode(m uint32) fs.FileMode {
	mode := fs.FileMode(m & 0o777)
	switch m & unix.S_IFMT {
	case unix.S_IFBLK:
		mode |= fs.ModeDevice
	case unix.S_IFCHR:
		mode |= fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFDIR:
		mode |= fs.ModeDir
	case unix.S_IFIFO:
		mode |= fs.ModeNamedPipe
	case unix.S_IFLNK:
		mode |= fs.ModeSymlink
	case unix.S_IFSOCK:
		mode |= fs.ModeSocket
	}
	if m&unix.S_ISGID != 0 {
		mode |= fs.ModeSetgid
	}
	if m&unix.S_ISUID != 0 {
		mode |= fs.ModeSetuid
	}
	if m&unix.S_ISVTX != 0 {
		mode |= fs.ModeSticky
	}
	return mode
}
