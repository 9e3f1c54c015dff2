//! Reading the user's input files with a size bound: a profile path that points at `/dev/zero`
//! or a multi-gigabyte log ends in a clear error after reading the bound, never in memory
//! exhaustion. Each kind of input has its own bound, far above any real file of that kind. And
//! the one rule by which a path names a file built into the binary (the bundled scenarios and
//! sample captures).

use std::io::Read;
use std::path::{Path, PathBuf};

/// Card and reader profiles, serve scripts, expectation lists.
pub const SMALL_YAML: u64 = 1 << 20;
/// Scenario files: as long as an import of the longest capture can make (a pcscd log writes a
/// scenario of about a third of its length, apdu4j dumps about their own length).
pub const SCENARIOS: u64 = 256 << 20;
/// Captures (pcscd, pcsc-spy, OpenSC, apdu4j logs; kazasu transcripts).
pub const CAPTURES: u64 = 256 << 20;

/// A file kazasu was given that it cannot take.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The operating system refused.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Longer than any file of its kind.
    #[error(
        "{} is longer than {} MiB, more than a file of this kind can be; is it the right file?",
        path.display(),
        limit >> 20
    )]
    TooLong {
        /// The file.
        path: PathBuf,
        /// The bound, bytes.
        limit: u64,
    },
    /// Not UTF-8 text.
    #[error("{} is not UTF-8 text: {source}", path.display())]
    NotText {
        /// The file.
        path: PathBuf,
        /// Where the text breaks.
        source: std::string::FromUtf8Error,
    },
}

/// Reads at most `limit` bytes of `path`; a longer file (or an endless one) is an error that
/// names the file and the bound.
pub fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, FileError> {
    let read = |source| FileError::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read)?;
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes).map_err(read)?;
    if bytes.len() as u64 > limit {
        return Err(FileError::TooLong {
            path: path.to_path_buf(),
            limit,
        });
    }
    Ok(bytes)
}

/// [`read_bounded`] as UTF-8 text.
pub fn read_text(path: &Path, limit: u64) -> Result<String, FileError> {
    String::from_utf8(read_bounded(path, limit)?).map_err(|source| FileError::NotText {
        path: path.to_path_buf(),
        source,
    })
}

/// The name under `scenarios/` by which a path asks for a file built into the binary:
/// `bundled:X`, `scenarios/X` or `./scenarios/X` give `X`; any other path `None`. (A file of
/// that path on disk wins; callers look there first.)
pub fn bundled_name(path: &Path) -> Option<String> {
    let text = path.to_string_lossy();
    text.strip_prefix("bundled:")
        .or_else(|| text.strip_prefix("scenarios/"))
        .or_else(|| text.strip_prefix("./scenarios/"))
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endless_file_ends_at_the_bound() {
        let e = read_bounded(Path::new("/dev/zero"), 1 << 10).unwrap_err();
        assert!(matches!(e, FileError::TooLong { .. }), "{e}");
        assert!(e.to_string().contains("/dev/zero is longer than"), "{e}");
    }

    #[test]
    fn a_file_within_the_bound_reads_whole() {
        let p = std::env::temp_dir().join(format!("kazasu-files-{}", std::process::id()));
        std::fs::write(&p, "name: x\n").unwrap();
        assert_eq!(read_text(&p, 8).unwrap(), "name: x\n");
        assert!(read_text(&p, 7).is_err());
        std::fs::remove_file(&p).unwrap();
    }

    #[test]
    fn bundled_files_are_named_three_ways_and_nothing_else_is() {
        for p in [
            "bundled:traces/a.log",
            "scenarios/traces/a.log",
            "./scenarios/traces/a.log",
        ] {
            assert_eq!(
                bundled_name(Path::new(p)).as_deref(),
                Some("traces/a.log"),
                "{p}"
            );
        }
        for p in ["traces/a.log", "/scenarios/a.log", "my/scenarios/a.log"] {
            assert_eq!(bundled_name(Path::new(p)), None, "{p}");
        }
    }
}
