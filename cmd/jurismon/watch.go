package main

import (
	"context"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// watchDatabases reloads the geo databases and the IEEE MAC registries
// when their files change.
// geoipupdate writes a new file and renames it over the old one, so the
// directories are watched (a watch on the file itself would follow the old
// inode), and events are debounced so that a burst of writes is one reload.
func (a *agent) watchDatabases(ctx context.Context) {
	files := map[string]bool{}
	dirs := map[string]bool{}
	var paths []string
	for _, db := range a.res.Databases() {
		if db.Path != "" { // not built in
			paths = append(paths, db.Path)
		}
	}
	paths = append(paths, a.vendors.Paths()...)
	for _, path := range paths {
		p, err := filepath.Abs(path)
		if err != nil {
			continue
		}
		files[p] = true
		dirs[filepath.Dir(p)] = true
	}
	if len(files) == 0 {
		return
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		a.logger.Warn("cannot watch the geo databases; reload with SIGHUP", "err", err)
		return
	}
	defer w.Close()
	for d := range dirs {
		if err := w.Add(d); err != nil {
			a.logger.Warn("cannot watch a geo database directory", "dir", d, "err", err)
		}
	}
	const settle = time.Second
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-w.Events:
			if !ok {
				return
			}
			if files[filepath.Clean(ev.Name)] && ev.Op&(fsnotify.Create|fsnotify.Write|fsnotify.Rename) != 0 {
				timer.Reset(settle)
			}
		case err, ok := <-w.Errors:
			if !ok {
				return
			}
			a.logger.Warn("geo database watch", "err", err)
		case <-timer.C:
			a.logger.Info("a geo database or MAC registry changed on disk; reloading")
			_ = a.reload() // logged and exported by reload
		}
	}
}
