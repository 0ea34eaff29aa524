//! Ogg Vorbis's setup header: its codebooks, checked before symphonia builds them.
//!
//! symphonia 0.5 reserves a byte for every entry a codebook claims (up to 2^24) before it reads a
//! code length, and builds a lookup table of entries × dimensions floats whose size it computes in
//! 32 bits: a product that wraps reads no values and then asks for terabytes, and a header of 256
//! codebooks that each claim millions of entries fits in a few kilobytes; its decoding trees take
//! 2 KiB for every byte of a long code's prefix, so a megabyte of long codes builds hundreds of
//! megabytes of them. It also divides by a
//! codebook's dimensions while decoding, indexes a table of 33 code lengths by a length it lets
//! run past 32, and asserts its float root of a lookup table's size. The codebooks are walked
//! here bit by bit as symphonia reads them, and a header that would do any of that is refused.

/// How many entries the codebooks of one setup header may claim in all, how many values their
/// lookup tables may hold, and how many 256-slot tables symphonia's decoding trees may need in
/// all (it reads codes 8 bits at a time, so a code of n bits may need a table at each of its
/// bytes after the first, besides the root's; 2 KiB each). libvorbis's setups from 8 to 96 kHz,
/// one to six channels, at its highest and lowest quality, claim at most 10,821 entries, 60,260
/// values and 3,779 tables (`scripts/vorbis-setups.py`, then the ignored test
/// `libvorbis_setups_claim_far_less_than_the_bounds`); these bounds are 17 to 24 times that, and
/// keep what symphonia builds under about 150 MiB.
const MAX_ENTRIES: u64 = 1 << 18;
const MAX_LOOKUP_VALUES: u64 = 1 << 20;
const MAX_DECODING_TABLES: u64 = 1 << 16;

/// "BCV", the 24 bits every codebook starts with.
const CODEBOOK_SYNC: u32 = 0x56_4342;

/// The longest code length a Vorbis codebook may have.
const LONGEST_CODE: u32 = 32;

/// Refuses a setup header whose codebooks symphonia could not build within bounds (see the
/// module's comment); `header` is the packet after its type byte and "vorbis". Returns how many
/// codebooks were walked whole: where the header ends early or breaks a rule symphonia itself
/// refuses on before building anything more, the walk stops there, as symphonia's does.
pub fn check_setup(header: &[u8]) -> Result<usize, String> {
    walk(header).map(|(codebooks, _)| codebooks)
}

/// The walk of [`check_setup`], with what the codebooks walked claim in all.
fn walk(header: &[u8]) -> Result<(usize, Totals), String> {
    let mut bits = Bits::new(header);
    let mut totals = Totals::default();
    let Some(count) = bits.read(8) else {
        return Ok((0, totals));
    };
    for index in 0..=count as usize {
        match check_codebook(&mut bits, index, &mut totals)? {
            Walk::Whole => {}
            Walk::Stopped => return Ok((index, totals)),
        }
    }
    Ok((count as usize + 1, totals))
}

/// What the codebooks walked so far claim.
#[derive(Debug, Default)]
struct Totals {
    entries: u64,
    lookup_values: u64,
    decoding_tables: u64,
}

/// Whether a codebook was walked to its end, or the header stopped where symphonia stops too.
enum Walk {
    Whole,
    Stopped,
}

fn check_codebook(bits: &mut Bits<'_>, index: usize, totals: &mut Totals) -> Result<Walk, String> {
    let Some(sync) = bits.read(24) else {
        return Ok(Walk::Stopped);
    };
    if sync != CODEBOOK_SYNC {
        return Ok(Walk::Stopped);
    }
    let (Some(dimensions), Some(entries)) = (bits.read(16), bits.read(24)) else {
        return Ok(Walk::Stopped);
    };
    if dimensions == 0 || entries == 0 {
        return Err(format!(
            "Ogg Vorbis codebook {index} has {entries} entries of {dimensions} dimensions"
        ));
    }
    // libvorbis refuses the same, so no encoder's file is: it also keeps entries × dimensions
    // under 2^24.
    if ilog(dimensions) + ilog(entries) > 24 {
        return Err(format!(
            "Ogg Vorbis codebook {index} claims {entries} entries of {dimensions} dimensions, more \
             than a Vorbis decoder reads"
        ));
    }
    totals.entries += u64::from(entries);
    if totals.entries > MAX_ENTRIES {
        return Err(format!(
            "the Ogg Vorbis setup header's codebooks claim {} entries up to codebook {index}; at \
             most {MAX_ENTRIES} are read",
            totals.entries
        ));
    }
    let Some(lengths) = code_lengths(bits, index, entries)? else {
        return Ok(Walk::Stopped);
    };
    // A code whose lengths leave no room for every codeword: symphonia refuses it, but may index
    // past its table first where a length is 32.
    if lengths.kraft > 1 << LONGEST_CODE {
        return Err(format!(
            "Ogg Vorbis codebook {index}'s code lengths do not make a prefix code"
        ));
    }
    totals.decoding_tables += 1 + lengths.deeper_bytes;
    if totals.decoding_tables > MAX_DECODING_TABLES {
        return Err(format!(
            "the Ogg Vorbis setup header's codebooks may need {} decoding tables up to codebook \
             {index}; at most {MAX_DECODING_TABLES} are built",
            totals.decoding_tables
        ));
    }
    let Some(lookup) = bits.read(4) else {
        return Ok(Walk::Stopped);
    };
    let values_read = match lookup {
        0 => return Ok(Walk::Whole),
        1 => lookup1_values(entries, dimensions).ok_or_else(|| {
            format!(
                "Ogg Vorbis codebook {index}'s lookup table of {entries} entries in {dimensions} \
                 dimensions has no whole size"
            )
        })?,
        2 => entries * dimensions,
        _ => return Ok(Walk::Stopped),
    };
    totals.lookup_values += u64::from(entries) * u64::from(dimensions);
    if totals.lookup_values > MAX_LOOKUP_VALUES {
        return Err(format!(
            "the Ogg Vorbis setup header's lookup tables claim {} values up to codebook {index}; \
             at most {MAX_LOOKUP_VALUES} are read",
            totals.lookup_values
        ));
    }
    // The smallest value and the step (32 bits each), then the bits per value.
    if bits.skip(64).is_none() {
        return Ok(Walk::Stopped);
    }
    let Some(value_bits) = bits.read(4).map(|b| b + 1) else {
        return Ok(Walk::Stopped);
    };
    // Whether the values accumulate.
    if bits.skip(1).is_none()
        || bits
            .skip(u64::from(values_read) * u64::from(value_bits))
            .is_none()
    {
        return Ok(Walk::Stopped);
    }
    Ok(Walk::Whole)
}

/// What a codebook's code lengths add up to.
#[derive(Default)]
struct Lengths {
    /// The Kraft sum in units of 2^-32: at most 2^32 for a code whose codewords all fit.
    kraft: u64,
    /// Over the entries used, how many bytes of each code follow its first.
    deeper_bytes: u64,
}

impl Lengths {
    fn add(&mut self, length: u32, entries: u32) {
        self.kraft += u64::from(entries) << (LONGEST_CODE - length);
        self.deeper_bytes += u64::from(entries) * u64::from((length - 1) / 8);
    }
}

/// Walks a codebook's code lengths, or returns `None` where the header ends first or symphonia
/// refuses the lengths (more of them than entries).
fn code_lengths(
    bits: &mut Bits<'_>,
    index: usize,
    entries: u32,
) -> Result<Option<Lengths>, String> {
    let mut lengths = Lengths::default();
    let Some(ordered) = bits.read(1) else {
        return Ok(None);
    };
    if ordered == 0 {
        let Some(sparse) = bits.read(1) else {
            return Ok(None);
        };
        for _ in 0..entries {
            if sparse == 1 {
                match bits.read(1) {
                    Some(1) => {}
                    Some(_) => continue,
                    None => return Ok(None),
                }
            }
            let Some(length) = bits.read(5) else {
                return Ok(None);
            };
            lengths.add(length + 1, 1);
        }
        return Ok(Some(lengths));
    }
    // Lengths in order: how many entries have each length, from the first length up.
    let Some(mut length) = bits.read(5).map(|l| l + 1) else {
        return Ok(None);
    };
    let mut entry = 0u32;
    while entry < entries {
        if length > LONGEST_CODE {
            return Err(format!(
                "Ogg Vorbis codebook {index}'s code lengths run past {LONGEST_CODE} bits"
            ));
        }
        let Some(count) = bits.read(ilog(entries - entry)) else {
            return Ok(None);
        };
        if count > entries - entry {
            return Ok(None);
        }
        entry += count;
        lengths.add(length, count);
        length += 1;
    }
    Ok(Some(lengths))
}

/// The size of a lookup table of type 1 as symphonia computes it (the greatest value whose
/// `dimensions`-th power is at most `entries`, from a float root), or `None` where its
/// assertions on that root would fail or its powers overflow.
fn lookup1_values(entries: u32, dimensions: u32) -> Option<u32> {
    let value = (entries as f32).powf(1.0 / dimensions as f32).floor() as u32;
    let within = value.checked_pow(dimensions)? <= entries;
    let largest = value.checked_add(1)?.checked_pow(dimensions)? > entries;
    (within && largest).then_some(value)
}

/// The bits needed for `value`: Vorbis's `ilog`.
fn ilog(value: u32) -> u32 {
    u32::BITS - value.leading_zeros()
}

/// A packet read as Vorbis packs it: least significant bit first.
struct Bits<'a> {
    bytes: &'a [u8],
    at: u64,
}

impl<'a> Bits<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, at: 0 }
    }

    /// The next `count` (at most 32) bits, or `None` where the packet ends first.
    fn read(&mut self, count: u32) -> Option<u32> {
        let start = self.at;
        self.skip(u64::from(count))?;
        let value = (0..u64::from(count)).fold(0u64, |value, i| {
            let bit = start + i;
            let byte = self.bytes[(bit / 8) as usize];
            value | (u64::from(byte >> (bit % 8)) & 1) << i
        });
        Some(value as u32)
    }

    fn skip(&mut self, count: u64) -> Option<()> {
        let end = self.at.checked_add(count)?;
        (end <= self.bytes.len() as u64 * 8).then(|| self.at = end)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A packet written as Vorbis packs it.
    #[derive(Default)]
    struct BitWriter {
        bytes: Vec<u8>,
        bits: u64,
    }

    impl BitWriter {
        fn put(&mut self, value: u64, count: u32) -> &mut Self {
            for i in 0..u64::from(count) {
                if self.bits.is_multiple_of(8) {
                    self.bytes.push(0);
                }
                let bit = ((value >> i) & 1) as u8;
                *self.bytes.last_mut().unwrap() |= bit << (self.bits % 8);
                self.bits += 1;
            }
            self
        }

        fn bytes(&self) -> Vec<u8> {
            self.bytes.clone()
        }
    }

    /// A codebook whose `entries` all have one length (an ordered list of lengths), with a
    /// lookup table of `lookup` type (values of one bit, all 0).
    fn codebook(out: &mut BitWriter, dimensions: u64, entries: u64, lookup: u64) {
        let length = ilog(entries.saturating_sub(1) as u32).max(1);
        out.put(CODEBOOK_SYNC.into(), 24)
            .put(dimensions, 16)
            .put(entries, 24);
        out.put(1, 1).put(u64::from(length - 1), 5);
        out.put(entries, ilog(entries as u32));
        out.put(lookup, 4);
        if lookup != 0 {
            out.put(0, 32).put(0, 32).put(0, 4).put(0, 1);
            let values = match lookup {
                1 => lookup1_values(entries as u32, dimensions as u32).unwrap(),
                _ => (entries * dimensions) as u32,
            };
            for _ in 0..values {
                out.put(0, 1);
            }
        }
    }

    /// A setup header (after "\x05vorbis") of the given codebooks, up to its codebooks.
    pub(crate) fn setup(books: &[(u64, u64, u64)]) -> Vec<u8> {
        let mut out = BitWriter::default();
        out.put(books.len() as u64 - 1, 8);
        for &(dimensions, entries, lookup) in books {
            codebook(&mut out, dimensions, entries, lookup);
        }
        out.bytes()
    }

    #[test]
    fn the_fixtures_setup_headers_are_walked_to_their_last_codebook() {
        for file in [
            include_bytes!("../../tests/fixtures/audio/yes.ogg").as_slice(),
            include_bytes!("../../tests/fixtures/audio/tone-22050-mono.ogg"),
        ] {
            let at = (file.windows(7).position(|w| w == b"\x05vorbis")).unwrap() + 7;
            let count = file[at] as usize + 1;
            assert_eq!(check_setup(&file[at..]), Ok(count));
        }
    }

    /// What libvorbis's own setups claim, printed beside the bounds: the files
    /// `scripts/vorbis-setups.py DIR` writes, read with
    /// `TEMPOKD_VORBIS_SETUPS=DIR cargo test -p tempokd --lib libvorbis -- --ignored --nocapture`.
    #[test]
    #[ignore = "needs the files scripts/vorbis-setups.py writes"]
    fn libvorbis_setups_claim_far_less_than_the_bounds() {
        let dir = std::env::var("TEMPOKD_VORBIS_SETUPS").expect("TEMPOKD_VORBIS_SETUPS=DIR");
        let mut files: Vec<_> = (std::fs::read_dir(dir).unwrap())
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|e| e == "ogg"))
            .collect();
        files.sort();
        assert!(!files.is_empty());
        for path in files {
            let file = std::fs::read(&path).unwrap();
            let at = (file.windows(7).position(|w| w == b"\x05vorbis")).unwrap() + 7;
            let (_, totals) = walk(&file[at..]).unwrap();
            println!("{}: {totals:?}", path.display());
            assert!(totals.entries * 16 <= MAX_ENTRIES);
            assert!(totals.lookup_values * 16 <= MAX_LOOKUP_VALUES);
            assert!(totals.decoding_tables * 16 <= MAX_DECODING_TABLES);
        }
    }

    #[test]
    fn codebooks_within_the_bounds_are_walked() {
        assert_eq!(
            check_setup(&setup(&[(2, 256, 2), (1, 1, 0), (4, 81, 1)])),
            Ok(3)
        );
        // Ordered lengths of 12 bits for 4,096 entries, 15 times over: 61,455 decoding tables at
        // most, under their bound.
        assert_eq!(check_setup(&setup(&[(1, 4096, 0); 15])), Ok(15));
    }

    #[test]
    fn a_lookup_table_whose_size_wraps_in_32_bits_is_refused() {
        // 2^23 entries of 65,024 dimensions: 2^23 × 65,024 wraps to 0 in 32 bits, so symphonia
        // would read no values and reserve 2 TB.
        let mut out = BitWriter::default();
        out.put(0, 8)
            .put(CODEBOOK_SYNC.into(), 24)
            .put(65_024, 16)
            .put(1 << 23, 24);
        assert_eq!(
            check_setup(&out.bytes()),
            Err(
                "Ogg Vorbis codebook 0 claims 8388608 entries of 65024 dimensions, more than a \
                 Vorbis decoder reads"
                    .into()
            )
        );
    }

    #[test]
    fn codebooks_claiming_too_much_in_all_are_refused() {
        // One codebook claiming 2^18 + 1 entries (a sparse one need not use them).
        let mut out = BitWriter::default();
        out.put(0, 8)
            .put(CODEBOOK_SYNC.into(), 24)
            .put(1, 16)
            .put((1 << 18) + 1, 24);
        assert_eq!(
            check_setup(&out.bytes()),
            Err(
                "the Ogg Vorbis setup header's codebooks claim 262145 entries up to codebook 0; \
                 at most 262144 are read"
                    .into()
            )
        );
        // Codes of 14 bits for 2^14 entries: each may need a table at its second byte.
        assert_eq!(
            check_setup(&setup(&[(1, 1 << 14, 0); 5])),
            Err(
                "the Ogg Vorbis setup header's codebooks may need 65540 decoding tables up to \
                 codebook 3; at most 65536 are built"
                    .into()
            )
        );
        // Two tables of 2^14 entries in 2^6 dimensions, 2^20 values each.
        let tables = setup(&[(1 << 6, 1 << 14, 2); 2]);
        assert_eq!(
            check_setup(&tables),
            Err(
                "the Ogg Vorbis setup header's lookup tables claim 2097152 values up to \
                 codebook 1; at most 1048576 are read"
                    .into()
            )
        );
        assert_eq!(check_setup(&setup(&[(1 << 6, 1 << 14, 2)])), Ok(1));
    }

    #[test]
    fn codebooks_symphonia_would_panic_on_are_refused() {
        let no_dimensions = setup(&[(0, 16, 0)]);
        assert_eq!(
            check_setup(&no_dimensions),
            Err("Ogg Vorbis codebook 0 has 16 entries of 0 dimensions".into())
        );
        let no_entries = setup(&[(2, 0, 0)]);
        assert_eq!(
            check_setup(&no_entries),
            Err("Ogg Vorbis codebook 0 has 0 entries of 2 dimensions".into())
        );
        // Ordered lengths from 32 on, where no entry has length 32: the next length is 33.
        let mut out = BitWriter::default();
        out.put(0, 8)
            .put(CODEBOOK_SYNC.into(), 24)
            .put(1, 16)
            .put(4, 24);
        out.put(1, 1).put(31, 5).put(0, 3).put(4, 3);
        assert_eq!(
            check_setup(&out.bytes()),
            Err("Ogg Vorbis codebook 0's code lengths run past 32 bits".into())
        );
        // Three codewords of one bit.
        let mut out = BitWriter::default();
        out.put(0, 8)
            .put(CODEBOOK_SYNC.into(), 24)
            .put(1, 16)
            .put(3, 24);
        out.put(0, 1).put(0, 1).put(0, 5).put(0, 5).put(0, 5);
        assert_eq!(
            check_setup(&out.bytes()),
            Err("Ogg Vorbis codebook 0's code lengths do not make a prefix code".into())
        );
        // One entry in 40 dimensions: 2^40 does not fit symphonia's 32-bit power.
        let mut out = BitWriter::default();
        out.put(0, 8)
            .put(CODEBOOK_SYNC.into(), 24)
            .put(40, 16)
            .put(1, 24);
        out.put(1, 1).put(0, 5).put(1, 1).put(1, 4);
        assert_eq!(
            check_setup(&out.bytes()),
            Err(
                "Ogg Vorbis codebook 0's lookup table of 1 entries in 40 dimensions has no \
                 whole size"
                    .into()
            )
        );
    }

    #[test]
    fn a_header_cut_short_or_out_of_sync_stops_the_walk_as_symphonia_stops() {
        let whole = setup(&[(2, 256, 2), (1, 16, 0)]);
        assert_eq!(check_setup(&whole[..whole.len() - 2]), Ok(1));
        assert_eq!(check_setup(b" setup"), Ok(0));
        assert_eq!(check_setup(&[]), Ok(0));
    }
}
