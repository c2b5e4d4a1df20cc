//! Durable file-system steps. A rename or a new file is only durable once the
//! directory that holds it is synced too; these helpers do both, so that what a
//! caller was told is stored survives a power loss or a `kill -9`.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rand::RngCore;

/// Syncs a directory, making the creation, rename or removal of its entries durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// The mode of every directory the server creates: only its own user may enter.
pub const PRIVATE_DIR_MODE: u32 = 0o700;
/// The mode of every file the server creates: only its own user may read it.
pub const PRIVATE_FILE_MODE: u32 = 0o600;

/// Creates `dir` and any missing parents (mode 0700 whatever the umask), syncing each
/// parent that gained an entry.
///
/// The `mkdir` is tried first: when the parent exists (the common case, a new
/// document's folder) that is one system call instead of a `stat` of the directory
/// and of its parent before it (issue 14: a `stat` per level per upload).
pub fn create_dir_all_durable(dir: &Path) -> io::Result<()> {
    match fs::DirBuilder::new().mode(PRIVATE_DIR_MODE).create(dir) {
        Ok(()) => {}
        // There already, or another task created it in the meantime. (Something
        // else than a directory under that name makes the caller's next step fail.)
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => return Ok(()),
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) else {
                return Err(error);
            };
            create_dir_all_durable(parent)?;
            match fs::DirBuilder::new().mode(PRIVATE_DIR_MODE).create(dir) {
                Ok(()) => {}
                Err(error) if error.kind() == io::ErrorKind::AlreadyExists => return Ok(()),
                Err(error) => return Err(error),
            }
        }
        Err(error) => return Err(error),
    }
    // The umask may have taken bits away; never adds any.
    fs::set_permissions(dir, fs::Permissions::from_mode(PRIVATE_DIR_MODE))?;
    if let Some(parent) = dir.parent() {
        sync_dir(parent)?;
    }
    Ok(())
}

/// Creates `path` as an empty file with mode 0600 if it does not exist, so that a
/// library that creates files with the umask's mode (SQLite: the database, and its
/// `-wal` and `-shm` files, which take the database file's mode) finds it private.
pub fn ensure_private_file(path: &Path) -> io::Result<()> {
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(PRIVATE_FILE_MODE)
        .open(path)
    {
        Ok(_) => {
            if let Some(parent) = path.parent() {
                sync_dir(parent)?;
            }
            Ok(())
        }
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(error),
    }
}

/// Takes group and other permissions away from the data directory and its direct
/// entries (files 0600, directories 0700), for data directories created by an
/// earlier release or by hand. Deeper entries are reachable only through these
/// directories. Returns each path changed with its old mode, for the log.
pub fn tighten_data_dir(data_dir: &Path) -> io::Result<Vec<(PathBuf, u32)>> {
    let mut changed = Vec::new();
    let mut tighten = |path: &Path, meta: &fs::Metadata| -> io::Result<()> {
        let mode = meta.permissions().mode() & 0o7777;
        let wanted = if meta.is_dir() {
            PRIVATE_DIR_MODE
        } else {
            PRIVATE_FILE_MODE
        };
        if mode & 0o077 != 0 {
            fs::set_permissions(path, fs::Permissions::from_mode(mode & wanted))?;
            changed.push((path.to_owned(), mode));
        }
        Ok(())
    };
    tighten(data_dir, &fs::metadata(data_dir)?)?;
    for entry in fs::read_dir(data_dir)? {
        let entry = entry?;
        // Not followed: a symbolic link's own mode means nothing.
        let meta = entry.metadata()?;
        if meta.is_dir() || meta.is_file() {
            tighten(&entry.path(), &meta)?;
        }
    }
    Ok(changed)
}

/// A temporary name next to `path`, on the same file system so a rename is atomic.
fn temp_sibling(path: &Path) -> io::Result<std::path::PathBuf> {
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    let mut suffix = [0u8; 8];
    rand::thread_rng().fill_bytes(&mut suffix);
    Ok(path.with_file_name(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        hex::encode(suffix)
    )))
}

/// Writes a new file with mode 0600, only if `path` does not exist yet. Returns
/// `false` (and writes nothing) when it does. The content is written and synced
/// under a temporary name and then hard-linked into place, which fails atomically
/// when the name is taken, so a reader never sees a half-written file.
pub fn write_new_private(
    path: &Path,
    write: impl FnOnce(&mut File) -> io::Result<()>,
) -> io::Result<bool> {
    let temp = temp_sibling(path)?;
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)?;
        write(&mut file)?;
        file.sync_all()?;
        match fs::hard_link(&temp, path) {
            Ok(()) => Ok(true),
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => Ok(false),
            Err(error) => Err(error),
        }
    })();
    let _ = fs::remove_file(&temp);
    let created = result?;
    if let Some(parent) = path.parent() {
        sync_dir(parent)?;
    }
    Ok(created)
}

/// Replaces `path` with `bytes` atomically and durably.
pub fn write_replace(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let temp = temp_sibling(path)?;
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result?;
    if let Some(parent) = path.parent() {
        sync_dir(parent)?;
    }
    Ok(())
}

/// Copies `source` to `target` through `tmp` (in the same file system as `target`):
/// the bytes are synced in `tmp` and then renamed into place, and the directory
/// synced, so `target` holds either nothing or the whole copy, even after a crash.
/// `tmp` is removed when the copy fails.
pub fn copy_durably(source: &Path, tmp: &Path, target: &Path) -> io::Result<()> {
    let result = (|| {
        std::fs::copy(source, tmp)?;
        std::fs::File::open(tmp)?.sync_all()?;
        if let Some(parent) = target.parent() {
            create_dir_all_durable(parent)?;
        }
        std::fs::rename(tmp, target)?;
        match target.parent() {
            Some(parent) => sync_dir(parent),
            None => Ok(()),
        }
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(tmp);
    }
    result
}

/// Removes a file; a file that is already gone is not an error. Returns whether it
/// existed.
pub fn remove_if_exists(path: &Path) -> io::Result<bool> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(error) => Err(error),
    }
}

/// Removes a directory tree; one that is already gone is not an error.
pub fn remove_dir_if_exists(path: &Path) -> io::Result<()> {
    match fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(error),
    }
}

/// Writes a file's dirty pages back to disk on a helper thread while the file is
/// still being written, so that the final `sync_all` only waits for the last part.
/// Without it a large upload first fills the page cache and then waits for the
/// whole of it to reach the disk; with it the two overlap (BENCHMARKS.md, row 4).
/// Durability is unchanged: the caller still syncs at the end, and a failed
/// background sync is reported by [`BackgroundSync::finish`].
pub struct BackgroundSync {
    nudge: Option<std::sync::mpsc::SyncSender<()>>,
    thread: Option<std::thread::JoinHandle<io::Result<()>>>,
}

impl BackgroundSync {
    /// Starts the helper thread for `file` (it syncs a second handle to the file).
    pub fn start(file: &File) -> io::Result<Self> {
        let file = file.try_clone()?;
        // Depth 1: nudges that arrive while a sync runs collapse into one more sync.
        let (nudge, nudges) = std::sync::mpsc::sync_channel::<()>(1);
        let thread = std::thread::Builder::new()
            .name("kumocms-sync".into())
            .spawn(move || {
                while nudges.recv().is_ok() {
                    file.sync_data()?;
                }
                Ok(())
            })?;
        Ok(Self {
            nudge: Some(nudge),
            thread: Some(thread),
        })
    }

    /// Asks for a sync of what was written so far; returns at once.
    pub fn nudge(&self) {
        if let Some(nudge) = &self.nudge {
            // Full: a sync is already due and will cover this. Disconnected: the
            // thread stopped on an error, which `finish` reports.
            let _ = nudge.try_send(());
        }
    }

    /// Waits for the helper thread; the first error of a background sync, if any.
    pub fn finish(mut self) -> io::Result<()> {
        self.stop()
    }

    fn stop(&mut self) -> io::Result<()> {
        self.nudge = None;
        match self.thread.take().map(std::thread::JoinHandle::join) {
            None | Some(Ok(Ok(()))) => Ok(()),
            Some(Ok(Err(error))) => Err(error),
            Some(Err(_)) => Err(io::Error::other("the background sync thread panicked")),
        }
    }
}

impl Drop for BackgroundSync {
    fn drop(&mut self) {
        // An abandoned write: the thread ends after at most one more sync.
        let _ = self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_parents_are_made_private_and_existing_folders_are_left_alone() {
        let root = tempfile::tempdir().unwrap();
        let deep = root.path().join("a/b/c");
        create_dir_all_durable(&deep).unwrap();
        for dir in [root.path().join("a"), root.path().join("a/b"), deep.clone()] {
            let mode = fs::metadata(&dir).unwrap().permissions().mode() & 0o7777;
            assert_eq!(mode, PRIVATE_DIR_MODE, "{}", dir.display());
        }
        // Already there: nothing to do, and a folder's mode is not changed.
        fs::set_permissions(&deep, fs::Permissions::from_mode(0o750)).unwrap();
        create_dir_all_durable(&deep).unwrap();
        let mode = fs::metadata(&deep).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o750);
        // A file in the way is reported by the next step, not here.
        let file = root.path().join("file");
        fs::write(&file, b"x").unwrap();
        create_dir_all_durable(&file).unwrap();
        assert!(create_dir_all_durable(&file.join("below")).is_err());
    }
}
