//! Checksummed files written atomically: the on-disk format of checkpoints.
//!
//! A file is `MAGIC (8 bytes) | payload length (u64 LE) | CRC-32 of payload (u32 LE) |
//! payload`. It is written to a temporary sibling, fsynced, renamed into place, and the
//! directory is fsynced, so a reader sees either the old file, the new one, or none — never
//! a torn one. A reader that finds a wrong magic, length or checksum gets
//! [`Error::CorruptCheckpoint`].

use crate::error::{Error, Result};
use std::io::Write;
use std::path::Path;

const MAGIC: &[u8; 8] = b"SPATE\x00\x01\n";
const HEADER: usize = 8 + 8 + 4;

/// Writes `payload` to `path` atomically with a checksum.
pub fn write_atomic(path: &Path, payload: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut file =
        output_tempfile(dir, &format!(".{name}.tmp-"), "").map_err(|e| Error::io(dir, e))?;
    let mut header = Vec::with_capacity(HEADER);
    header.extend_from_slice(MAGIC);
    header.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    header.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    let tmp = file.path().to_path_buf();
    file.write_all(&header).map_err(|e| Error::io(&tmp, e))?;
    file.write_all(payload).map_err(|e| Error::io(&tmp, e))?;
    file.as_file().sync_all().map_err(|e| Error::io(&tmp, e))?;
    file.persist(path).map_err(|e| Error::io(path, e.error))?;
    sync_parent(path)
}

/// A new temporary file in `dir`, named `prefix` + random + `suffix`, for an output that will
/// be renamed over its target. It is created exclusively (`O_EXCL`), so a link planted where
/// a temporary will be cannot redirect the write, and on Unix with the permissions of a file
/// created the usual way (`0666` less the umask) rather than `tempfile`'s private `0600`,
/// which the renamed output would keep.
pub fn output_tempfile(
    dir: &Path,
    prefix: &str,
    suffix: &str,
) -> std::io::Result<tempfile::NamedTempFile> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(prefix).suffix(suffix);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    builder.tempfile_in(dir)
}

/// Fsyncs the directory containing `path`, so a rename in it is durable.
pub fn sync_parent(path: &Path) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        let dir = std::fs::File::open(parent).map_err(|e| Error::io(parent, e))?;
        dir.sync_all().map_err(|e| Error::io(parent, e))?;
    }
    Ok(())
}

/// Reads a file written by [`write_atomic`], verifying its header and checksum.
pub fn read_verified(path: &Path) -> Result<Vec<u8>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    verify(path, bytes)
}

fn verify(path: &Path, mut bytes: Vec<u8>) -> Result<Vec<u8>> {
    let corrupt = |reason: String| Error::CorruptCheckpoint {
        path: path.to_path_buf(),
        reason,
    };
    if bytes.len() < HEADER {
        return Err(corrupt(format!(
            "truncated: {} bytes, shorter than the {HEADER}-byte header",
            bytes.len()
        )));
    }
    if &bytes[..8] != MAGIC {
        return Err(corrupt("not a Spate checkpoint file (bad magic)".into()));
    }
    let mut len = [0_u8; 8];
    len.copy_from_slice(&bytes[8..16]);
    let len = u64::from_le_bytes(len);
    let mut crc = [0_u8; 4];
    crc.copy_from_slice(&bytes[16..20]);
    let crc = u32::from_le_bytes(crc);
    let actual = (bytes.len() - HEADER) as u64;
    if actual != len {
        return Err(corrupt(format!(
            "truncated or padded: header says {len} payload bytes, file has {actual}"
        )));
    }
    let payload = bytes.split_off(HEADER);
    let found = crc32fast::hash(&payload);
    if found != crc {
        return Err(corrupt(format!(
            "checksum mismatch: stored {crc:08x}, computed {found:08x}"
        )));
    }
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_planted_at_temporary_names_cannot_redirect_a_write() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim.txt");
        std::fs::write(&victim, b"precious").unwrap();
        let checkpoints = dir.path().join("ck");
        std::fs::create_dir(&checkpoints).unwrap();
        // Every name the temporary of `ck/x.ckpt` would once have had (process id and a
        // counter), linked to the victim; and the destination itself a link.
        for n in 0..2000 {
            let name = format!(".x.ckpt.tmp-{}-{n}", std::process::id());
            std::os::unix::fs::symlink(&victim, checkpoints.join(name)).unwrap();
        }
        let path = checkpoints.join("x.ckpt");
        std::os::unix::fs::symlink(&victim, &path).unwrap();
        write_atomic(&path, b"state").unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
        assert_eq!(read_verified(&path).unwrap(), b"state");
        assert!(!std::fs::symlink_metadata(&path).unwrap().is_symlink());
    }

    #[test]
    fn written_files_get_the_permissions_of_a_file_created_the_usual_way() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let reference = dir.path().join("reference");
        std::fs::write(&reference, b"").unwrap();
        let path = dir.path().join("x.ckpt");
        write_atomic(&path, b"state").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), mode(&reference));
    }

    #[test]
    fn round_trip_and_detects_damage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.ckpt");
        write_atomic(&path, b"hello state").unwrap();
        assert_eq!(read_verified(&path).unwrap(), b"hello state");

        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0x40;
        std::fs::write(&path, &bytes).unwrap();
        let err = read_verified(&path).unwrap_err();
        assert!(err.to_string().contains("checksum mismatch"), "{err}");

        bytes.truncate(bytes.len() - 3);
        std::fs::write(&path, &bytes).unwrap();
        let err = read_verified(&path).unwrap_err();
        assert!(err.to_string().contains("truncated"), "{err}");

        std::fs::write(&path, b"garbage that is long enough").unwrap();
        assert!(matches!(
            read_verified(&path),
            Err(Error::CorruptCheckpoint { .. })
        ));
    }
}
