//! Opening a file's container with symphonia's own probe, one step at a time, so that each tag
//! and container header is checked at the very place symphonia is about to read it: after
//! junk, after an ID3 tag (a FLAC or WAV file behind one), wherever the probe finds it.

use std::io::{Cursor, ErrorKind};
use std::sync::Arc;

use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::{FormatOptions, FormatReader};
use symphonia::core::io::{MediaSourceStream, ReadBytes};
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Instantiate;

use super::mp4::{self, EditStart};
use super::{AudioError, flac, id3, ogg, wav};

/// The file's bytes, read by symphonia and by the checks alike.
struct SharedBytes(Arc<Vec<u8>>);

impl AsRef<[u8]> for SharedBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// A container symphonia is ready to read packets from.
pub struct Opened {
    pub format: Box<dyn FormatReader>,
    /// An MP4 audio track's edit start, which symphonia 0.5 ignores.
    pub edit_start: Option<EditStart>,
}

/// Finds the container in `bytes` as `symphonia`'s probe does: each marker it meets is a
/// metadata tag (read, then the search goes on after it) or the container. Every ID3 tag, and
/// the container's headers, are checked first.
pub fn open(bytes: Vec<u8>, options: &FormatOptions) -> Result<Opened, AudioError> {
    let bytes = Arc::new(bytes);
    let source = Cursor::new(SharedBytes(Arc::clone(&bytes)));
    let mut stream = MediaSourceStream::new(Box::new(source), Default::default());
    let probe = symphonia::default::get_probe();
    loop {
        let found = probe.next(&mut stream).map_err(probe_error)?;
        // The probe leaves the stream at the marker it found.
        let at = usize::try_from(stream.pos()).unwrap_or(usize::MAX);
        let rest = bytes.get(at..).unwrap_or_default();
        match found {
            Instantiate::Metadata(reader) => {
                id3::check_tag(rest).map_err(|why| {
                    AudioError::Corrupt(format!("the file's ID3 tag is damaged: {why}"))
                })?;
                reader(&MetadataOptions::default())
                    .read_all(&mut stream)
                    .map_err(probe_error)?;
            }
            Instantiate::Format(reader) => {
                let edit_start = check_container(&bytes, at)?;
                let format = reader(stream, options).map_err(probe_error)?;
                return Ok(Opened { format, edit_start });
            }
        }
    }
}

/// Checks the container whose marker starts at `at`, by its marker; an MP4 file's edit start
/// comes with it.
fn check_container(bytes: &[u8], at: usize) -> Result<Option<EditStart>, AudioError> {
    let rest = &bytes[at.min(bytes.len())..];
    fn damaged(kind: &'static str) -> impl Fn(String) -> AudioError {
        move |why| AudioError::Corrupt(format!("the {kind} is damaged: {why}"))
    }
    match rest.get(..4) {
        Some(b"fLaC") => flac::check_metadata(rest).map_err(damaged("FLAC file"))?,
        Some(b"OggS") => ogg::check_headers(rest).map_err(damaged("Ogg file"))?,
        Some(b"RIFF") => wav::check_lists(rest).map_err(damaged("WAV file"))?,
        Some(b"ftyp") => {
            // The marker is the file-type box's type; the box starts at its size, 4 bytes before.
            let boxes = &bytes[at.saturating_sub(4)..];
            mp4::check_sample_tables(boxes).map_err(damaged("MP4 container"))?;
            return Ok(mp4::edit_start(boxes));
        }
        _ => {}
    }
    Ok(None)
}

fn probe_error(error: SymphoniaError) -> AudioError {
    match error {
        SymphoniaError::Unsupported(what) => AudioError::Unsupported(what.to_string()),
        SymphoniaError::IoError(io) if io.kind() == ErrorKind::UnexpectedEof => {
            AudioError::Unsupported("the data ends before any audio header".into())
        }
        other => AudioError::Corrupt(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::ogg::tests::seal_all;

    fn refusal(bytes: Vec<u8>) -> String {
        match open(bytes, &FormatOptions::default()) {
            Err(AudioError::Corrupt(why)) => why,
            Err(other) => panic!("{other}"),
            Ok(_) => panic!("opened"),
        }
    }

    /// `file` with the last 8 bytes of its comment packet's vendor string made into a comment
    /// count of 1 and a comment claiming 4 GiB, its pages sealed again (symphonia drops a page
    /// whose CRC is wrong, so a lie must keep the CRC right to reach it).
    fn with_lying_comment(file: &[u8], packet_start: &[u8]) -> Vec<u8> {
        let Some(found) = file
            .windows(packet_start.len())
            .position(|w| w == packet_start)
        else {
            panic!("no comment packet");
        };
        let list = found + packet_start.len();
        let vendor = u32::from_le_bytes(file[list..list + 4].try_into().unwrap());
        assert!(vendor >= 8, "a vendor string of {vendor} bytes");
        let count = list + 4 + vendor as usize - 8;
        let mut lying = file.to_vec();
        lying[list..list + 4].copy_from_slice(&(vendor - 8).to_le_bytes());
        lying[count..count + 4].copy_from_slice(&1u32.to_le_bytes());
        lying[count + 4..count + 8].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
        seal_all(&mut lying);
        lying
    }

    #[test]
    fn a_lying_ogg_comment_is_refused_at_the_start_behind_junk_and_behind_an_id3_tag() {
        let tag: Vec<u8> = b"ID3\x03\0\0\0\0\0\x10"
            .iter()
            .chain(&[0; 16])
            .copied()
            .collect();
        for (file, packet_start) in [
            (
                include_bytes!("../../tests/fixtures/audio/yes.ogg").as_slice(),
                b"\x03vorbis".as_slice(),
            ),
            (
                include_bytes!("../../tests/fixtures/audio/yes.opus"),
                b"OpusTags",
            ),
        ] {
            assert!(open(file.to_vec(), &FormatOptions::default()).is_ok());
            let lying = with_lying_comment(file, packet_start);
            for before in [Vec::new(), b"some junk".to_vec(), tag.clone()] {
                let why = refusal([before.as_slice(), &lying].concat());
                assert!(
                    why.starts_with("the Ogg file is damaged: a comment claims 4294967280 bytes"),
                    "{why}"
                );
            }
        }
    }

    /// yes.ogg with its setup header's first codebook claiming 2^23 entries of 65,024
    /// dimensions, a lookup table whose size wraps to 0 in symphonia's 32 bits, so it would read
    /// no values and then reserve 2 TB.
    #[test]
    fn a_vorbis_codebook_claiming_terabytes_is_refused() {
        let file = include_bytes!("../../tests/fixtures/audio/yes.ogg");
        let at = (file.windows(7).position(|w| w == b"\x05vorbis")).unwrap() + 7;
        // The codebook count, the first codebook's sync, then its dimensions and entries.
        let mut lying = file.to_vec();
        lying[at + 4..at + 9].copy_from_slice(&[0x00, 0xfe, 0x00, 0x00, 0x80]);
        seal_all(&mut lying);
        assert!(open(file.to_vec(), &FormatOptions::default()).is_ok());
        assert_eq!(
            refusal(lying),
            "the Ogg file is damaged: Ogg Vorbis codebook 0 claims 8388608 entries of 65024 \
             dimensions, more than a Vorbis decoder reads"
        );
    }
}
