//! An Ogg file's header packets, checked before symphonia reads them.
//!
//! symphonia 0.5 reads the comment lists of Ogg Vorbis and Opus, and the metadata blocks of FLAC
//! in Ogg, into buffers of the lengths their fields claim (up to 4 GiB each), and builds Vorbis
//! codebooks of the sizes the setup header claims (`vorbis_setup.rs`). The pages are
//! walked here as symphonia's demuxer walks them (a page whose header or CRC is wrong skipped,
//! the streams of each physical stream named by its first pages, packets put back together
//! across pages, a stream's partial packet dropped where its pages break off), and every packet
//! symphonia would read as one of those is checked.

use std::collections::HashMap;

use super::flac;
use super::vorbis_comment::{Reading, check_comments};
use super::vorbis_setup::check_setup;

/// The bytes every page starts with.
const CAPTURE: &[u8; 4] = b"OggS";

/// A page's header up to its segment table.
const PAGE_HEADER: usize = 27;

/// How many times its length a file's page CRCs may cost to check in one pass. A file of sound
/// pages costs its length; one of overlapping fake pages costs up to 64 KiB from every fake
/// page's start (to symphonia too), so past this it is refused before symphonia reads it.
const CRC_WORK_PER_BYTE: usize = 8;

/// Header type flags: the page continues its stream's open packet; the page begins a stream.
const CONTINUED: u8 = 0x01;
const FIRST: u8 = 0x02;

/// What a logical stream carries, told by its first page's first packet.
#[derive(Clone, Copy, PartialEq)]
enum Codec {
    Vorbis,
    /// Opus, until symphonia has read a comment packet to its end (it reads no more after).
    OpusBeforeTags,
    /// Opus past its comments: every packet is audio.
    Opus,
    Flac,
    /// Anything else: nothing symphonia reads from it.
    Unchecked,
}

impl Codec {
    /// The codec symphonia's demuxer maps a stream with, told from its first packet by the
    /// rules it applies: a packet any of them refuses makes a stream it reads nothing from, and
    /// whose pages never end its headers, so telling it apart exactly keeps this walk in step.
    fn of_first_packet(packet: &[u8]) -> Self {
        if is_flac_mapping_header(packet) {
            Codec::Flac
        } else if is_vorbis_identification(packet) {
            Codec::Vorbis
        } else if is_opus_head(packet) {
            Codec::OpusBeforeTags
        } else {
            Codec::Unchecked
        }
    }
}

/// Ogg FLAC's first packet: 0x7F "FLAC", mapping version 1, "fLaC", then a STREAMINFO block of
/// its 34 bytes, 51 bytes in all. (symphonia goes on to read the STREAMINFO; one it refuses
/// ends its reading of the file, so nothing after matters.)
fn is_flac_mapping_header(packet: &[u8]) -> bool {
    packet.len() == 51
        && packet.starts_with(b"\x7fFLAC\x01")
        && &packet[9..13] == b"fLaC"
        && packet[13] & 0x7f == 0
        && packet[14..17] == [0, 0, 34]
}

/// Vorbis I's identification header, exactly 30 bytes: version 0, channels and sample rate
/// not zero, block sizes of 2^6 to 2^13 samples with the short not above the long, framing
/// byte 1.
fn is_vorbis_identification(packet: &[u8]) -> bool {
    if packet.len() != 30 || !packet.starts_with(b"\x01vorbis") {
        return false;
    }
    let nonzero_word = |at: usize| packet[at..at + 4] != [0; 4];
    let (short, long) = (packet[28] & 0x0f, packet[28] >> 4);
    !nonzero_word(7)
        && packet[11] != 0
        && nonzero_word(12)
        && (6..=13).contains(&short)
        && (6..=13).contains(&long)
        && short <= long
        && packet[29] == 1
}

/// Opus's identification header (RFC 7845): "OpusHead", at least 19 bytes, a version whose
/// major part is 0, at least one channel, and a channel mapping family symphonia plays (0 with
/// one or two channels, 1 with one to eight).
fn is_opus_head(packet: &[u8]) -> bool {
    let Some(head) = packet.strip_prefix(b"OpusHead") else {
        return false;
    };
    let [version, channels, .., mapping] = head.get(..11).unwrap_or_default() else {
        return false;
    };
    *version <= 0x0f && matches!((mapping, channels), (0, 1..=2) | (1, 1..=8))
}

/// One logical stream: its codec, its last page's sequence number and its open packet.
struct Stream {
    codec: Codec,
    last_sequence: Option<u32>,
    partial: Vec<u8>,
    /// Whether a packet of audio has been read: symphonia's headers end with the first.
    has_data: bool,
}

impl Stream {
    /// Takes a page's packets as symphonia's logical stream does and checks each complete one.
    fn read_page(&mut self, page: &Page<'_>) -> Result<(), String> {
        if let Some(last) = self.last_sequence
            && (page.sequence < last || page.sequence - last > 1)
        {
            self.partial.clear();
        }
        self.last_sequence = Some(page.sequence);
        if !page.continued {
            self.partial.clear();
        }
        let mut packets = page.packets.iter();
        if page.continued && self.partial.is_empty() {
            // The packet it continues is lost: its end is dropped, or the whole page if that
            // end does not close on it.
            if packets.next().is_none() {
                return Ok(());
            }
        }
        for packet in packets {
            if self.partial.is_empty() {
                self.map_packet(packet)?;
            } else {
                let whole = [std::mem::take(&mut self.partial).as_slice(), packet].concat();
                self.map_packet(&whole)?;
            }
        }
        self.partial.extend_from_slice(page.open);
        Ok(())
    }

    fn map_packet(&mut self, packet: &[u8]) -> Result<(), String> {
        match self.codec {
            Codec::Vorbis => match packet {
                [kind, ..] if kind & 1 == 0 => self.has_data = true,
                _ => {
                    if let Some(list) = packet.strip_prefix(b"\x03vorbis") {
                        check_comments(list)?;
                    } else if let Some(setup) = packet.strip_prefix(b"\x05vorbis") {
                        check_setup(setup)?;
                    }
                }
            },
            Codec::OpusBeforeTags => {
                if let Some(list) = packet.strip_prefix(b"OpusTags")
                    && check_comments(list)? == Reading::Whole
                {
                    self.codec = Codec::Opus;
                }
            }
            Codec::Opus => self.has_data = true,
            Codec::Flac => match packet {
                [0xff, ..] => self.has_data = true,
                // Packet types symphonia skips.
                [0x00 | 0x80, ..] => {}
                // A metadata block, read up to the packet's end whatever its length says.
                [kind, _, _, _, body @ ..] => flac::check_block(kind & 0x7f, body)?,
                _ => {}
            },
            Codec::Unchecked => {}
        }
        Ok(())
    }
}

/// One page whose header and CRC are sound.
struct Page<'a> {
    serial: u32,
    sequence: u32,
    flags: u8,
    continued: bool,
    /// The packets that end on this page (the first may continue an open one).
    packets: Vec<&'a [u8]>,
    /// The start of a packet the next page continues.
    open: &'a [u8],
}

/// What reading the next page found.
enum Read<'a> {
    Page(Page<'a>, usize),
    /// Not a page: the search for the next goes on from here.
    Skip(usize),
    /// The bytes end inside the page: symphonia stops here.
    End,
}

/// Refuses an Ogg file whose comment list or FLAC metadata claims more bytes than its packet
/// holds. `bytes` start at the first page; bytes that are not Ogg pass.
pub fn check_headers(bytes: &[u8]) -> Result<(), String> {
    if !bytes.starts_with(CAPTURE) {
        return Ok(());
    }
    let mut streams: HashMap<u32, Stream> = HashMap::new();
    let mut phase = Phase::FirstPages;
    let mut at = 0;
    let work = crc_work_bound(bytes);
    if work > bytes.len().saturating_mul(CRC_WORK_PER_BYTE).max(1 << 20) {
        return Err(format!(
            "this Ogg file is mostly broken pages: checking their CRCs could hash {work} bytes, \
             more than {CRC_WORK_PER_BYTE} times its {} bytes; it is not read",
            bytes.len()
        ));
    }
    while let Some(found) = find_capture(bytes, at) {
        let page = match read_page(bytes, found) {
            Read::Page(page, next) => {
                at = next;
                page
            }
            // symphonia drops a broken page among the audio, but gives up on the file at one
            // among the first pages or headers.
            Read::Skip(next) if phase == Phase::Audio => {
                at = next;
                continue;
            }
            Read::Skip(_) | Read::End => break,
        };
        let first = page.flags & FIRST != 0;
        if first && phase == Phase::Audio {
            // A new physical stream (a chained file): symphonia forgets the old one's streams.
            streams.clear();
            phase = Phase::FirstPages;
        }
        if first && phase == Phase::FirstPages {
            // Each first page names its stream by its first packet, which is never read as
            // data; one without a complete packet names nothing.
            if let Some(packet) = page.packets.first() {
                streams.insert(
                    page.serial,
                    Stream {
                        codec: Codec::of_first_packet(packet),
                        last_sequence: None,
                        partial: Vec::new(),
                        has_data: false,
                    },
                );
            }
            continue;
        }
        if phase == Phase::FirstPages {
            phase = Phase::Headers;
        }
        // While the headers are read, a first page of a known stream is read like any other.
        if let Some(stream) = streams.get_mut(&page.serial) {
            stream.read_page(&page)?;
            if phase == Phase::Headers && stream.has_data {
                phase = Phase::Audio;
            }
        }
    }
    Ok(())
}

/// Where symphonia is in a physical stream: its run of first pages, then the pages up to the
/// first audio packet (the headers), then the audio, where a first page starts the next one.
#[derive(Clone, Copy, PartialEq)]
enum Phase {
    FirstPages,
    Headers,
    Audio,
}

/// The most bytes a page reader can hash for CRCs in one pass over `bytes`, wherever it starts:
/// every capture pattern opening a header symphonia takes (version 0, known flags) counts the
/// page it claims, cut at the end of the file. symphonia passes over a file more than once, at
/// offsets of its own (the headers, a scan back from the end, a bisection of chained streams),
/// so the bound counts every capture, not only those a walk from the start lands on.
fn crc_work_bound(bytes: &[u8]) -> usize {
    let mut work = 0usize;
    let mut from = 0;
    while let Some(found) = find_capture(bytes, from) {
        from = found + CAPTURE.len();
        let Some(header) = bytes.get(found..found + PAGE_HEADER) else {
            break;
        };
        if header[4] != 0 || header[5] & 0xf8 != 0 {
            continue;
        }
        let segments = usize::from(header[26]);
        let lacing = &bytes[found + PAGE_HEADER..(found + PAGE_HEADER + segments).min(bytes.len())];
        let body: usize = lacing.iter().map(|&size| usize::from(size)).sum();
        work = work.saturating_add((PAGE_HEADER + segments + body).min(bytes.len() - found));
    }
    work
}

/// The page whose capture pattern is at `found`, as symphonia's page reader takes it.
fn read_page(bytes: &[u8], found: usize) -> Read<'_> {
    let Some(header) = bytes.get(found..found + PAGE_HEADER) else {
        return Read::End;
    };
    let (version, flags) = (header[4], header[5]);
    if version != 0 || flags & 0xf8 != 0 {
        // symphonia goes on searching after the header it refused.
        return Read::Skip(found + PAGE_HEADER);
    }
    let segments = usize::from(header[26]);
    let body_start = found + PAGE_HEADER + segments;
    let Some(lacing) = bytes.get(found + PAGE_HEADER..body_start) else {
        return Read::End;
    };
    let body_length: usize = lacing.iter().map(|&size| usize::from(size)).sum();
    let Some(body) = bytes.get(body_start..body_start + body_length) else {
        return Read::End;
    };
    let stored = u32::from_le_bytes([header[22], header[23], header[24], header[25]]);
    if page_crc(&bytes[found..body_start + body_length]) != stored {
        // symphonia searches again from just after the capture pattern.
        return Read::Skip(found + CAPTURE.len());
    }
    let mut packets = Vec::new();
    let (mut start, mut end) = (0, 0);
    for &size in lacing {
        end += usize::from(size);
        // A segment shorter than 255 bytes ends its packet.
        if size < 255 {
            packets.push(&body[start..end]);
            start = end;
        }
    }
    let page = Page {
        serial: u32::from_le_bytes([header[14], header[15], header[16], header[17]]),
        sequence: u32::from_le_bytes([header[18], header[19], header[20], header[21]]),
        flags,
        continued: flags & CONTINUED != 0,
        packets,
        open: &body[start..],
    };
    Read::Page(page, body_start + body_length)
}

/// Where the next page starts at or after `from` (symphonia, too, skips bytes between pages).
fn find_capture(bytes: &[u8], from: usize) -> Option<usize> {
    let rest = bytes.get(from..)?;
    rest.windows(CAPTURE.len())
        .position(|w| w == CAPTURE)
        .map(|i| from + i)
}

/// Ogg's CRC-32 of a page (polynomial 0x04C11DB7, not reflected, starting at 0), with the
/// page's own CRC field taken as zeros.
fn page_crc(page: &[u8]) -> u32 {
    page.iter().enumerate().fold(0, |crc, (i, &byte)| {
        let byte = if (22..26).contains(&i) { 0 } else { byte };
        (crc << 8) ^ CRC_TABLE[usize::from((crc >> 24) as u8 ^ byte)]
    })
}

const CRC_TABLE: [u32; 256] = {
    let mut table = [0; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = (i as u32) << 24;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04c1_1db7
            } else {
                crc << 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
};

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::audio::vorbis_comment::tests::list;
    use crate::audio::vorbis_setup::tests::setup;

    /// Writes the CRC of the page that starts at `page`'s first byte into its header.
    pub(crate) fn seal(page: &mut [u8]) {
        let segments = usize::from(page[26]);
        let lacing = &page[PAGE_HEADER..PAGE_HEADER + segments];
        let length = PAGE_HEADER + segments + lacing.iter().map(|&s| usize::from(s)).sum::<usize>();
        let crc = page_crc(&page[..length]);
        page[22..26].copy_from_slice(&crc.to_le_bytes());
    }

    /// Writes the CRC of every page of `file`, which holds pages and nothing else.
    pub(crate) fn seal_all(file: &mut [u8]) {
        let mut at = 0;
        while at < file.len() {
            seal(&mut file[at..]);
            let segments = usize::from(file[at + 26]);
            let lacing = &file[at + PAGE_HEADER..at + PAGE_HEADER + segments];
            at += PAGE_HEADER + segments + lacing.iter().map(|&s| usize::from(s)).sum::<usize>();
        }
    }

    /// A sealed page of one stream: `packets`, each laced in full, then `open` (a multiple of
    /// 255 bytes) left for the next page to continue.
    fn page(serial: u32, flags: u8, sequence: u32, packets: &[&[u8]], open: &[u8]) -> Vec<u8> {
        assert_eq!(open.len() % 255, 0);
        let mut lacing = Vec::new();
        for packet in packets {
            lacing.extend(std::iter::repeat_n(255u8, packet.len() / 255));
            lacing.push((packet.len() % 255) as u8);
        }
        lacing.extend(std::iter::repeat_n(255u8, open.len() / 255));
        let mut out = CAPTURE.to_vec();
        out.extend([0, flags]);
        out.extend([0; 8]);
        out.extend(serial.to_le_bytes());
        out.extend(sequence.to_le_bytes());
        out.extend([0; 4]);
        out.push(lacing.len() as u8);
        out.extend(lacing);
        for packet in packets {
            out.extend(*packet);
        }
        out.extend(open);
        seal(&mut out);
        out
    }

    /// The first packets symphonia maps a Vorbis, an Opus and a FLAC stream with (the FLAC
    /// one's STREAMINFO: blocks of 4,096 samples, 16 kHz, one channel of 16 bits).
    fn vorbis_ident() -> Vec<u8> {
        let rate = 16_000u32.to_le_bytes();
        [
            b"\x01vorbis\0\0\0\0\x01".as_slice(),
            &rate,
            &[0; 12],
            &[0xb8, 1],
        ]
        .concat()
    }

    fn opus_head() -> Vec<u8> {
        b"OpusHead\x01\x01\x38\x01\x80\xbb\0\0\0\0\0".to_vec()
    }

    fn flac_head() -> Vec<u8> {
        let stream_info = [
            0x10, 0, 0x10, 0, 0, 0, 0, 0, 0, 0, 0x03, 0xe8, 0, 0xf0, 0, 0, 0, 0,
        ];
        [
            b"\x7fFLAC\x01\0\0\x01fLaC\0\0\0\x22".as_slice(),
            &stream_info,
            &[0; 16],
        ]
        .concat()
    }

    #[test]
    fn a_stream_is_mapped_only_by_a_first_packet_symphonia_maps() {
        let vorbis = vorbis_ident();
        let opus = opus_head();
        let flac = flac_head();
        assert!(Codec::of_first_packet(&vorbis) == Codec::Vorbis);
        assert!(Codec::of_first_packet(&opus) == Codec::OpusBeforeTags);
        assert!(Codec::of_first_packet(&flac) == Codec::Flac);
        let changed = |packet: &[u8], at: usize, value: u8| {
            let mut changed = packet.to_vec();
            changed[at] = value;
            changed
        };
        let refused = [
            [vorbis.as_slice(), &[0]].concat(),
            vorbis[..29].to_vec(),
            changed(&vorbis, 7, 1),
            changed(&vorbis, 11, 0),
            [&vorbis[..12], &[0; 4], &vorbis[16..]].concat(),
            changed(&vorbis, 28, 0xb5),
            changed(&vorbis, 28, 0xe8),
            changed(&vorbis, 28, 0x8b),
            changed(&vorbis, 29, 0),
            opus[..18].to_vec(),
            changed(&opus, 8, 0x10),
            changed(&opus, 9, 0),
            changed(&opus, 9, 3),
            changed(&opus, 18, 2),
            changed(&changed(&opus, 18, 1), 9, 9),
            flac[..50].to_vec(),
            changed(&flac, 5, 2),
            changed(&flac, 12, b'X'),
            changed(&flac, 13, 1),
            changed(&flac, 16, 33),
        ];
        // A longer Opus head (a mapping table) and a last-block flag are still mapped.
        assert!(
            Codec::of_first_packet(&[opus.as_slice(), &[0; 4]].concat()) == Codec::OpusBeforeTags
        );
        assert!(Codec::of_first_packet(&changed(&flac, 13, 0x80)) == Codec::Flac);
        for (i, packet) in refused.iter().enumerate() {
            assert!(
                Codec::of_first_packet(packet) == Codec::Unchecked,
                "packet {i}"
            );
        }
    }

    /// Whether symphonia's Ogg reader opens `file` with a track it maps to a codec.
    fn symphonia_maps(file: &[u8]) -> bool {
        use symphonia::core::codecs::CODEC_TYPE_NULL;
        use symphonia::core::formats::FormatReader;
        use symphonia::core::io::MediaSourceStream;
        let source = MediaSourceStream::new(
            Box::new(std::io::Cursor::new(file.to_vec())),
            Default::default(),
        );
        symphonia::default::formats::OggReader::try_new(source, &Default::default()).is_ok_and(
            |reader| {
                reader
                    .tracks()
                    .iter()
                    .any(|t| t.codec_params.codec != CODEC_TYPE_NULL)
            },
        )
    }

    #[test]
    fn first_packets_are_mapped_as_symphonia_maps_them() {
        // The fixtures' identification packets changed in place (each the first page's one
        // packet, after its 27-byte header and one lacing value), the page sealed again, and
        // symphonia asked whether it still maps the stream: a stream it maps to no codec never
        // ends its headers, so it fails at the end of the file.
        let vorbis = include_bytes!("../../tests/fixtures/audio/yes.ogg");
        let opus = include_bytes!("../../tests/fixtures/audio/yes.opus");
        let at = PAGE_HEADER + 1;
        for (file, offset, value) in [
            (vorbis.as_slice(), None, 0),
            (vorbis, Some(16), 0x55), // the maximum bitrate, which nothing checks
            (vorbis, Some(7), 1),     // Vorbis version 1
            (vorbis, Some(11), 0),    // no channels
            (vorbis, Some(28), 0xb5), // a short block of 2^5
            (vorbis, Some(28), 0xe8), // a long block of 2^14
            (vorbis, Some(28), 0x8b), // the short block longer than the long
            (vorbis, Some(29), 0),    // no framing bit
            (opus, None, 0),
            (opus, Some(17), 0x40), // the output gain
            (opus, Some(8), 0x10),  // version 16
            (opus, Some(9), 0),     // no channels
            (opus, Some(9), 3),     // three channels in mapping family 0
            (opus, Some(18), 2),    // mapping family 2
        ] {
            let mut changed = file.to_vec();
            if let Some(offset) = offset {
                changed[at + offset] = value;
                seal(&mut changed);
            }
            let Read::Page(first, _) = read_page(&changed, 0) else {
                panic!("the first page of the changed fixture is broken");
            };
            let ours = Codec::of_first_packet(first.packets[0]) != Codec::Unchecked;
            assert_eq!(
                ours,
                symphonia_maps(&changed),
                "byte {offset:?} set to {value:#x}"
            );
        }
    }

    #[test]
    fn a_stream_symphonia_does_not_map_does_not_end_the_headers() {
        // Stream 5 opens like Vorbis but its framing byte is 0, so symphonia maps it to no
        // codec and its packet of audio ends nothing: symphonia is still reading headers when a
        // first page of stream 7 comes, and reads its comment packet as one of stream 7's.
        let mut fake = vorbis_ident();
        fake[29] = 0;
        let file = [
            page(5, FIRST, 0, &[&fake], &[]),
            page(7, FIRST, 0, &[&vorbis_ident()], &[]),
            page(5, 0, 1, &[&[0u8; 40]], &[]),
            page(7, 0, 1, &[&vorbis_comments(None), b"\x05vorbis setup"], &[]),
            page(7, FIRST, 2, &[&vorbis_comments(Some(u32::MAX))], &[]),
        ]
        .concat();
        assert!(check_headers(&file).is_err());
    }

    fn vorbis_comments(claims: Option<u32>) -> Vec<u8> {
        [
            b"\x03vorbis".as_slice(),
            &list(&["TITLE=yes"], claims),
            &[1],
        ]
        .concat()
    }

    fn vorbis(comment_claims: Option<u32>) -> Vec<u8> {
        [
            page(7, FIRST, 0, &[vorbis_ident().as_slice()], &[]),
            page(
                7,
                0,
                1,
                &[
                    &vorbis_comments(comment_claims),
                    b"\x05vorbis setup".as_slice(),
                ],
                &[],
            ),
            page(7, 0, 2, &[&[0u8; 300][..]], &[]),
        ]
        .concat()
    }

    #[test]
    fn every_page_an_encoder_wrote_reads_as_sound() {
        // The Ogg Vorbis and Opus fixtures: each page's CRC as their encoder wrote it equals ours.
        for file in [
            include_bytes!("../../tests/fixtures/audio/yes.ogg").as_slice(),
            include_bytes!("../../tests/fixtures/audio/yes.opus"),
        ] {
            let (mut at, mut pages) = (0, 0);
            while let Some(found) = find_capture(file, at) {
                match read_page(file, found) {
                    Read::Page(_, next) => at = next,
                    Read::Skip(_) => panic!("the page at byte {found} was refused"),
                    Read::End => panic!("the page at byte {found} is cut short"),
                }
                pages += 1;
            }
            assert!(pages >= 3, "{pages} pages");
        }
    }

    #[test]
    fn a_comment_longer_than_its_packet_is_refused_in_vorbis_opus_and_flac() {
        assert_eq!(check_headers(&vorbis(None)), Ok(()));
        assert_eq!(
            check_headers(&vorbis(Some(u32::MAX))),
            Err("a comment claims 4294967295 bytes where its comment list has 10 left".into())
        );
        let opus = |claims| {
            let tags = [b"OpusTags".as_slice(), &list(&["TITLE=yes"], claims)].concat();
            [
                page(3, FIRST, 0, &[opus_head().as_slice()], &[]),
                page(3, 0, 1, &[&tags], &[]),
            ]
            .concat()
        };
        assert_eq!(check_headers(&opus(None)), Ok(()));
        assert!(check_headers(&opus(Some(1 << 31))).is_err());
        // FLAC in Ogg: symphonia reads a block to its packet's end, whatever its length says.
        let flac = |claims| {
            let mut block = vec![0x84, 0, 0, 0];
            block.extend(list(&["TITLE=yes"], claims));
            [
                page(9, FIRST, 0, &[flac_head().as_slice()], &[]),
                page(9, 0, 1, &[&block], &[]),
            ]
            .concat()
        };
        assert_eq!(check_headers(&flac(None)), Ok(()));
        assert!(check_headers(&flac(Some(1 << 31))).is_err());
    }

    #[test]
    fn comment_packets_anywhere_in_a_stream_and_in_a_chained_stream_are_checked() {
        let lying = vorbis_comments(Some(u32::MAX));
        // A Vorbis comment packet after the audio has started.
        let late = [vorbis(None), page(7, 0, 3, &[&[0u8; 40][..], &lying], &[])].concat();
        assert!(check_headers(&late).is_err());
        // A second physical stream chained after the first.
        let chained = [vorbis(None), vorbis(Some(u32::MAX))].concat();
        assert!(check_headers(&chained).is_err());
        // Opus: the first packet that is a comment packet, not the packet after the head.
        let tags = |claims| [b"OpusTags".as_slice(), &list(&["TITLE=yes"], claims)].concat();
        let opus = |packets: &[&[u8]]| {
            [
                page(3, FIRST, 0, &[opus_head().as_slice()], &[]),
                page(3, 0, 1, packets, &[]),
            ]
            .concat()
        };
        assert!(check_headers(&opus(&[b"\x00\x01", &tags(Some(1 << 31))])).is_err());
        // symphonia reads only the first comment packet of an Opus stream it reads to its end;
        // one whose vendor string runs past the packet does not count.
        assert_eq!(
            check_headers(&opus(&[&tags(None), &tags(Some(1 << 31))])),
            Ok(())
        );
        let cut_short = [b"OpusTags".as_slice(), &u32::MAX.to_le_bytes()].concat();
        assert!(check_headers(&opus(&[&cut_short, &tags(Some(1 << 31))])).is_err());
    }

    /// The header pages of an Ogg Vorbis stream whose setup header holds these codebooks
    /// (dimensions, entries, lookup type: `vorbis_setup::tests::setup`).
    fn vorbis_with_codebooks(books: &[(u64, u64, u64)]) -> Vec<u8> {
        let header = [b"\x05vorbis".as_slice(), &setup(books)].concat();
        [
            page(7, FIRST, 0, &[vorbis_ident().as_slice()], &[]),
            page(7, 0, 1, &[&vorbis_comments(None), &header], &[]),
        ]
        .concat()
    }

    #[test]
    fn a_vorbis_setup_header_with_a_codebook_too_large_is_refused() {
        assert_eq!(
            check_headers(&vorbis_with_codebooks(&[(2, 256, 2)])),
            Ok(())
        );
        // A second stream's setup header is walked as well.
        let second = [vorbis(None), vorbis_with_codebooks(&[(0, 16, 0)])].concat();
        assert_eq!(
            check_headers(&second),
            Err("Ogg Vorbis codebook 0 has 16 entries of 0 dimensions".into())
        );
    }

    #[test]
    fn a_first_page_among_the_headers_does_not_start_a_new_physical_stream() {
        let ident = page(7, FIRST, 0, &[vorbis_ident().as_slice()], &[]);
        let setup = page(7, 0, 1, &[b"\x05vorbis setup".as_slice()], &[]);
        let lying = vorbis_comments(Some(u32::MAX));
        // No audio packet yet: symphonia is still reading headers, ignores the first page of a
        // stream it did not see begin, and reads on in stream 7.
        let other = page(99, FIRST, 0, &[vorbis_ident().as_slice()], &[]);
        let file = [
            ident.clone(),
            setup.clone(),
            other,
            page(7, 0, 2, &[&lying], &[]),
        ]
        .concat();
        assert!(check_headers(&file).is_err());
        // A first page of stream 7 itself is read like any other page, its first packet too.
        let again = page(7, FIRST, 2, &[&lying], &[]);
        assert!(check_headers(&[ident.clone(), setup, again].concat()).is_err());
        // A first page with no complete packet names nothing: stream 7 stays Vorbis.
        let empty = page(7, FIRST, 1, &[], &[0; 255]);
        let file = [ident, empty, page(7, 0, 2, &[&lying], &[])].concat();
        assert!(check_headers(&file).is_err());
    }

    #[test]
    fn pages_symphonia_skips_or_stops_at_are_not_checked() {
        let lying = vorbis_comments(Some(u32::MAX));
        let audio_started = vorbis(None);
        let late = page(7, 0, 3, &[&lying], &[]);
        assert!(check_headers(&[audio_started.clone(), late.clone()].concat()).is_err());
        // A wrong CRC, a version other than 0 or an unknown flag: among the audio symphonia
        // drops the page; among the headers it refuses the file there.
        for (at, value) in [(22, 0x5a), (4, 1), (5, 0x08)] {
            let mut broken = late.clone();
            broken[at] ^= value;
            if at != 22 {
                seal(&mut broken);
            }
            let file = [audio_started.clone(), broken].concat();
            assert_eq!(check_headers(&file), Ok(()), "header byte {at}");
        }
        let headers = vorbis(Some(u32::MAX));
        let second_page = page(7, FIRST, 0, &[vorbis_ident().as_slice()], &[]).len();
        let mut broken = headers.clone();
        broken[second_page + 22] ^= 0x5a;
        assert_eq!(check_headers(&broken), Ok(()));
        // A stream that never began with a first page is not read.
        let orphan = page(8, 0, 1, &[&lying], &[]);
        assert_eq!(check_headers(&[vorbis(None), orphan].concat()), Ok(()));
    }

    #[test]
    fn a_comment_packet_spread_over_pages_is_put_back_together() {
        let head = page(7, FIRST, 0, &[vorbis_ident().as_slice()], &[]);
        let long = |claims| {
            let comments = list(&["TITLE=yes", &"x".repeat(600)], claims);
            [b"\x03vorbis".as_slice(), &comments, &[1]].concat()
        };
        for (packet, refused) in [(long(None), false), (long(Some(602)), true)] {
            // The first 510 bytes end the first page; the second page continues them.
            let (start, end) = packet.split_at(510);
            let file = [
                head.clone(),
                page(7, 0, 1, &[], start),
                page(7, CONTINUED, 2, &[end], &[]),
            ]
            .concat();
            assert_eq!(check_headers(&file).is_err(), refused);
            // A lost page between the two parts: symphonia drops the broken packet.
            let gap = [
                head.clone(),
                page(7, 0, 1, &[], start),
                page(7, CONTINUED, 3, &[end], &[]),
            ]
            .concat();
            assert_eq!(check_headers(&gap), Ok(()));
        }
    }

    #[test]
    fn a_file_of_overlapping_broken_pages_is_refused_before_it_is_hashed_through() {
        // Among the audio, page headers 300 bytes apart, each claiming 255 full segments (about
        // 64 KiB) under a wrong CRC: every one is hashed to its claimed end, then the search
        // goes on 4 bytes after it.
        let mut fake = page(7, 0, 3, &[], &[0; 255 * 255]);
        fake[22] ^= 1;
        let mut broken = vec![0u8; 1 << 20];
        for start in (0..broken.len() - fake.len()).step_by(300) {
            broken[start..start + PAGE_HEADER + 255].copy_from_slice(&fake[..PAGE_HEADER + 255]);
        }
        let file = [vorbis(None), broken.clone()].concat();
        let refused = check_headers(&file).unwrap_err();
        assert!(refused.contains("mostly broken pages"), "{refused}");
        // A few such pages (a damaged file) are skipped as symphonia skips them.
        let few = [vorbis(None), broken[..900].to_vec(), vec![0; 1 << 16]].concat();
        assert_eq!(check_headers(&few), Ok(()));
        // Behind a chained stream's first page the walk stops at the first broken page, but
        // symphonia's scan back from the end would hash the rest.
        let chained = page(8, FIRST, 0, &[&vorbis_ident()], &[]);
        let file = [vorbis(None), chained, broken].concat();
        assert!(check_headers(&file).is_err());
    }

    #[test]
    fn other_bytes_and_short_pages_pass() {
        assert_eq!(check_headers(b"RIFF0000WAVE"), Ok(()));
        let file = vorbis(Some(u32::MAX));
        // Cut inside the comment packet's page: symphonia stops at the cut, reserving nothing.
        assert_eq!(check_headers(&file[..50]), Ok(()));
    }
}
