//! Where each file of the store lives (the layout in [`super`]'s documentation), and
//! the check that makes a key safe as a path.

use super::*;

impl FsBlobStore {
    /// Where multipart uploads in progress are kept (see [`crate::multipart`]).
    pub(crate) fn multipart_dir(&self) -> PathBuf {
        self.data_dir.join("multipart")
    }

    pub(crate) fn tmp_dir(&self) -> PathBuf {
        self.data_dir.join("tmp")
    }

    pub(crate) fn hot_path(&self, key: &str) -> PathBuf {
        self.blobs.join("hot").join(key)
    }

    pub(super) fn cold_path(&self, class: StorageClass, key: &str) -> PathBuf {
        self.blobs.join("cold").join(class.as_str()).join(key)
    }

    pub(super) fn restored_path(&self, key: &str) -> PathBuf {
        self.blobs.join("restored").join(key)
    }

    pub(super) fn restores_dir(&self) -> PathBuf {
        self.blobs.join("restores")
    }

    pub(super) fn request_path(&self, key: &str) -> PathBuf {
        // Keys contain '/' and may be long; a digest gives one flat, short name.
        self.restores_dir().join(format!(
            "{}.json",
            hex::encode(Sha256::digest(key.as_bytes()))
        ))
    }

    /// The key of `blob`, if it belongs to this store and is safe as a path.
    pub(crate) fn checked<'a>(&self, blob: &'a BlobRef) -> Result<&'a str, BlobError> {
        if blob.location.store != LOCAL_STORE {
            return Err(BlobError::other(format!(
                "blob {} is in store {:?}, not the local one",
                blob.key, blob.location.store
            )));
        }
        checked_key(&blob.key)
    }
}

pub(crate) fn checked_key(key: &str) -> Result<&str, BlobError> {
    if blob_key::is_safe(key) {
        Ok(key)
    } else {
        Err(BlobError::other(format!(
            "blob key {key:?} is not a safe key"
        )))
    }
}

pub(super) fn size_of(path: &Path) -> std::io::Result<Option<u64>> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => Ok(Some(meta.len())),
        Ok(_) => Ok(None),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error),
    }
}
