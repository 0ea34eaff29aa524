//! Files a user names, read only when their size fits: a model folder's `config.json` or weights,
//! or a clip, of many gigabytes would otherwise be read whole before anything could refuse it.

use std::io::Read;
use std::path::Path;

/// The largest `config.json` read (the real ones are a few kilobytes).
pub const MAX_CONFIG_BYTES: u64 = 16 << 20;

/// Refuses a config's text over [`MAX_CONFIG_BYTES`] before it is parsed, wherever it came from
/// (a file, a fetch, a picked file): parsed, megabytes of JSON are far more in memory.
pub fn check_config_size(text: &str, name: &str) -> Result<(), String> {
    let bytes = text.len() as u64;
    if bytes > MAX_CONFIG_BYTES {
        return Err(format!(
            "{name} is {bytes} bytes; a config of at most {MAX_CONFIG_BYTES} bytes is read"
        ));
    }
    Ok(())
}

/// The largest list or record read whole: a corpus's `manifest.csv`, Speech Commands' split
/// lists, FSD50K's CSVs, a run's `training.json` and saved state, a store of teacher maps (the
/// largest real ones are tens of megabytes).
pub const MAX_LIST_BYTES: u64 = 512 << 20;

/// Reads `path` whole, or says why not: unreadable, not a file, or over `max_bytes` (from its
/// size, before a byte is read, and again while reading, since a file can grow meanwhile).
/// `what` names the limit in the message, e.g. "a student's weights".
///
/// Devices and pipes are refused before they are opened: `/dev/zero` reports a size of 0 and
/// never ends, and opening a named pipe waits for a writer.
pub fn read_capped(path: &Path, max_bytes: u64, what: &str) -> Result<Vec<u8>, String> {
    let failed = |e: std::io::Error| format!("{}: {e}", path.display());
    let metadata = std::fs::metadata(path).map_err(failed)?;
    if !metadata.is_file() {
        return Err(format!(
            "{}: not a regular file ({what} is read from a file)",
            path.display()
        ));
    }
    let size = metadata.len();
    let over = |size: u64| {
        format!(
            "{}: {size} bytes, over the {max_bytes} bytes {what} may take",
            path.display()
        )
    };
    if size > max_bytes {
        return Err(over(size));
    }
    let mut bytes = Vec::with_capacity(size as usize);
    std::fs::File::open(path)
        .and_then(|file| {
            file.take(max_bytes.saturating_add(1))
                .read_to_end(&mut bytes)
        })
        .map_err(failed)?;
    if bytes.len() as u64 > max_bytes {
        return Err(over(bytes.len() as u64));
    }
    Ok(bytes)
}

/// [`read_capped`] for text.
pub fn read_capped_text(path: &Path, max_bytes: u64, what: &str) -> Result<String, String> {
    String::from_utf8(read_capped(path, max_bytes, what)?)
        .map_err(|_| format!("{}: not UTF-8 text", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_over_its_cap_is_refused_from_its_size() {
        let dir = std::env::temp_dir().join(format!("tempokd-capped-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("config.json");
        // A sparse file: refusing it must not read it.
        let file = std::fs::File::create(&path).unwrap();
        file.set_len(MAX_CONFIG_BYTES + 1).unwrap();
        let refused = read_capped_text(&path, MAX_CONFIG_BYTES, "a config").unwrap_err();
        assert!(
            refused.ends_with("16777217 bytes, over the 16777216 bytes a config may take"),
            "{refused}"
        );
        file.set_len(3).unwrap();
        assert_eq!(
            read_capped(&path, MAX_CONFIG_BYTES, "a config").unwrap(),
            vec![0; 3]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn devices_and_pipes_are_refused_without_reading_them() {
        // /dev/zero reports a size of 0 and never ends.
        let refused = read_capped(Path::new("/dev/zero"), MAX_CONFIG_BYTES, "a clip").unwrap_err();
        assert_eq!(
            refused,
            "/dev/zero: not a regular file (a clip is read from a file)"
        );
        let dir = std::env::temp_dir().join(format!("tempokd-pipe-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pipe = dir.join("manifest.csv");
        let made = std::process::Command::new("mkfifo").arg(&pipe).status();
        if made.is_ok_and(|status| status.success()) {
            // Opening it would wait for a writer that never comes.
            assert!(read_capped_text(&pipe, MAX_LIST_BYTES, "a manifest").is_err());
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
