//! The only place that slices wire bytes.
//!
//! Every read goes through [`Reader`], which checks what remains before it
//! touches a byte and returns an [`Error`] instead of panicking; every write
//! goes through [`Writer`], which fills in lengths and padding. Nothing in
//! this crate indexes a received buffer anywhere else, so "no input panics"
//! reduces to "this module does not panic", which the fuzz targets check.
//!
//! Lengths read from the wire only ever shrink what is read: a value can
//! never be larger than the datagram that carried it, so no length makes the
//! parser allocate more than the input size.

use core::fmt;

use bytes::{Buf, Bytes};

use super::Error;

/// An item that a chunk carries as a run of TLVs to its end: parameters
/// (RFC 9260 §3.2.1) and error causes (§3.3.10).
pub(crate) trait TlvItem: Sized {
    /// Names the item in parse errors.
    const WHAT: &'static str;
    fn from_tlv(tlv: Tlv) -> Result<Self, Error>;
    fn emit(&self, w: &mut Writer<'_>);
}

/// Parses items until the reader is empty.
pub(crate) fn parse_all<T: TlvItem>(r: &mut Reader) -> Result<Vec<T>, Error> {
    let mut items = Vec::new();
    while !r.is_empty() {
        items.push(T::from_tlv(r.tlv(T::WHAT)?)?);
    }
    Ok(items)
}

pub(crate) fn emit_all<T: TlvItem>(items: &[T], w: &mut Writer<'_>) {
    items.iter().for_each(|item| item.emit(w));
}

/// Shows a list's items with `separator` between them.
pub(crate) struct Joined<'a, T>(pub &'a [T], pub &'static str);

impl<T: fmt::Display> fmt::Display for Joined<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, item) in self.0.iter().enumerate() {
            f.write_str(if i > 0 { self.1 } else { "" })?;
            write!(f, "{item}")?;
        }
        Ok(())
    }
}

/// Bytes of padding that bring `len` up to a multiple of four (RFC 9260 §3.2).
pub(crate) const fn padding(len: usize) -> usize {
    (4 - (len & 3)) & 3
}

/// A cursor over received bytes; slices are cheap views into the datagram.
#[derive(Debug, Clone)]
pub(crate) struct Reader {
    data: Bytes,
    /// Names the structure being read, for error messages.
    what: &'static str,
}

/// One type-length-value item: a chunk or a parameter or an error cause.
#[derive(Debug, Clone)]
pub(crate) struct Tlv {
    /// The first two bytes (chunk type and flags, or a 16-bit type).
    pub(crate) head: [u8; 2],
    /// The value, without the 4-byte header and without padding.
    pub(crate) value: Bytes,
}

impl Tlv {
    pub(crate) fn type16(&self) -> u16 {
        u16::from_be_bytes(self.head)
    }
}

impl Reader {
    pub(crate) fn new(data: Bytes, what: &'static str) -> Self {
        Self { data, what }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.data.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    fn need(&self, n: usize) -> Result<(), Error> {
        if self.data.len() < n {
            return Err(Error::Truncated {
                what: self.what,
                needed: n,
                available: self.data.len(),
            });
        }
        Ok(())
    }

    pub(crate) fn u16(&mut self) -> Result<u16, Error> {
        self.need(2)?;
        Ok(self.data.get_u16())
    }

    pub(crate) fn u32(&mut self) -> Result<u32, Error> {
        self.need(4)?;
        Ok(self.data.get_u32())
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        self.need(N)?;
        let mut out = [0; N];
        self.data.copy_to_slice(&mut out);
        Ok(out)
    }

    /// Everything that is left.
    pub(crate) fn rest(&mut self) -> Bytes {
        std::mem::take(&mut self.data)
    }

    /// Fails unless the whole input has been read.
    pub(crate) fn finish(&self) -> Result<(), Error> {
        if self.data.is_empty() {
            Ok(())
        } else {
            Err(Error::TrailingBytes {
                what: self.what,
                count: self.data.len(),
            })
        }
    }

    /// Reads one type-length-value item and skips its padding.
    ///
    /// RFC 9260 §3.2: the length counts the 4-byte header and the value but
    /// not the padding, and the last parameter of a chunk (and the last chunk
    /// of a packet) may arrive without it, because a chunk's length excludes
    /// its last parameter's padding. Padding bytes are ignored, whatever
    /// their value, as the receiver is told to.
    pub(crate) fn tlv(&mut self, what: &'static str) -> Result<Tlv, Error> {
        if self.data.len() < 4 {
            return Err(Error::Truncated {
                what,
                needed: 4,
                available: self.data.len(),
            });
        }
        let head = [self.data[0], self.data[1]];
        let length = usize::from(u16::from_be_bytes([self.data[2], self.data[3]]));
        if length < 4 {
            return Err(Error::BadLength { what, length });
        }
        if length > self.data.len() {
            return Err(Error::Truncated {
                what,
                needed: length,
                available: self.data.len(),
            });
        }
        let mut item = self.data.split_to(length);
        item.advance(4);
        let pad = padding(length);
        if self.data.len() >= pad {
            self.data.advance(pad);
        } else if !self.data.is_empty() {
            return Err(Error::BadPadding { what });
        }
        Ok(Tlv { head, value: item })
    }
}

/// Appends wire bytes to a caller-owned buffer, or only counts them.
///
/// It remembers where the last value ended without padding, so that a
/// chunk's length can leave out its last parameter's padding (RFC 9260
/// §3.2) while the padding bytes are still written. A counting writer
/// ([`Writer::measure`]) runs the same emitting code without a buffer, so
/// an item's encoded length is known before it is written, and always
/// agrees with what is written.
pub(crate) struct Writer<'a> {
    /// `None` when only counting.
    buf: Option<&'a mut Vec<u8>>,
    /// Bytes written (or counted) so far, from the buffer's start.
    len: usize,
    unpadded_end: usize,
    /// Set once any item turned out too long; every enclosing item fails too.
    overflow: Option<usize>,
}

impl<'a> Writer<'a> {
    pub(crate) fn new(buf: &'a mut Vec<u8>) -> Self {
        let len = buf.len();
        Self {
            buf: Some(buf),
            len,
            unpadded_end: len,
            overflow: None,
        }
    }

    /// A writer that writes nothing and counts what it would.
    pub(crate) fn measure() -> Self {
        Self {
            buf: None,
            len: 0,
            unpadded_end: 0,
            overflow: None,
        }
    }

    /// Bytes written or counted, padding included.
    pub(crate) fn written(&self) -> usize {
        self.len
    }

    fn put(&mut self, v: &[u8]) {
        if let Some(buf) = &mut self.buf {
            buf.extend_from_slice(v);
        }
        self.len += v.len();
        self.unpadded_end = self.len;
    }

    pub(crate) fn u8(&mut self, v: u8) {
        self.put(&[v]);
    }

    pub(crate) fn u16(&mut self, v: u16) {
        self.put(&v.to_be_bytes());
    }

    pub(crate) fn u32(&mut self, v: u32) {
        self.put(&v.to_be_bytes());
    }

    pub(crate) fn bytes(&mut self, v: &[u8]) {
        self.put(v);
    }

    /// Cuts what was written back to `len` bytes, then zero-fills up to
    /// `to`.
    fn set_len(&mut self, len: usize, to: usize) {
        if let Some(buf) = &mut self.buf {
            buf.truncate(len);
            buf.resize(to, 0);
        }
        self.len = to;
    }

    /// Writes a 4-byte TLV header with `head` as its first two bytes, the
    /// value written by `body`, then zero padding to a multiple of four.
    ///
    /// Returns `Err(length)` when the item would be longer than the 16-bit
    /// length field can say; the buffer is then left as it was.
    pub(crate) fn tlv(&mut self, head: [u8; 2], body: impl FnOnce(&mut Self)) -> Result<(), usize> {
        let start = self.len;
        self.put(&[head[0], head[1], 0, 0]);
        body(self);
        let length = self.unpadded_end.max(start + 4) - start;
        let fits = u16::try_from(length)
            .ok()
            .filter(|_| self.overflow.is_none());
        let Some(length16) = fits else {
            let length = *self.overflow.get_or_insert(length);
            self.set_len(start, start);
            self.unpadded_end = start;
            return Err(length);
        };
        if let Some(buf) = &mut self.buf {
            buf[start + 2..start + 4].copy_from_slice(&length16.to_be_bytes());
        }
        // Pad from the unpadded end: a nested item's padding is reused.
        self.set_len(start + length, start + length + padding(length));
        self.unpadded_end = start + length;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_rounds_to_four() {
        assert_eq!(
            [0, 1, 2, 3, 4, 5, 7, 8].map(padding),
            [0, 3, 2, 1, 0, 3, 1, 0]
        );
    }

    #[test]
    fn reader_reports_truncation_instead_of_panicking() {
        let mut r = Reader::new(Bytes::from_static(&[1, 2, 3]), "test");
        assert_eq!(r.u16(), Ok(0x0102));
        assert_eq!(
            r.u32(),
            Err(Error::Truncated {
                what: "test",
                needed: 4,
                available: 1
            })
        );
        assert_eq!(r.array::<1>(), Ok([3]));
        assert!(r.array::<1>().is_err());
    }

    #[test]
    fn tlv_tolerates_missing_final_padding_but_not_short_padding() {
        // Length 5, then no padding at all: the last item of its container.
        let mut r = Reader::new(Bytes::from_static(&[0, 1, 0, 5, 9]), "test");
        let tlv = r.tlv("item").unwrap();
        assert_eq!(&tlv.value[..], &[9]);
        assert!(r.is_empty());
        // Length 5, one of three padding bytes: the padding is cut short.
        let mut r = Reader::new(Bytes::from_static(&[0, 1, 0, 5, 9, 0]), "test");
        assert_eq!(
            r.tlv("item").unwrap_err(),
            Error::BadPadding { what: "item" }
        );
    }

    #[test]
    fn tlv_rejects_lengths_below_header_and_past_end() {
        let mut r = Reader::new(Bytes::from_static(&[0, 1, 0, 3]), "test");
        assert_eq!(
            r.tlv("item").unwrap_err(),
            Error::BadLength {
                what: "item",
                length: 3
            }
        );
        let mut r = Reader::new(Bytes::from_static(&[0, 1, 0, 9, 0, 0, 0, 0]), "test");
        assert!(matches!(
            r.tlv("item"),
            Err(Error::Truncated { needed: 9, .. })
        ));
    }

    #[test]
    fn writer_excludes_last_nested_padding_from_outer_length() {
        let mut buf = Vec::new();
        let mut w = Writer::new(&mut buf);
        w.tlv([1, 0], |w| {
            w.u32(7);
            w.tlv([0, 9], |w| w.bytes(&[1, 2, 3])).unwrap();
        })
        .unwrap();
        // Outer: 4 header + 4 + inner(7, padded to 8) -> length 15, padded to 16.
        assert_eq!(buf, [1, 0, 0, 15, 0, 0, 0, 7, 0, 9, 0, 7, 1, 2, 3, 0]);
    }

    #[test]
    fn writer_fails_the_outer_item_when_a_nested_one_is_too_long() {
        let mut buf = Vec::new();
        let mut w = Writer::new(&mut buf);
        let big = vec![0; 70_000];
        let outer = w.tlv([0, 1], |w| {
            let _ = w.tlv([0, 2], |w| w.bytes(&big));
        });
        assert!(outer.is_err());
        assert!(buf.is_empty());
    }

    #[test]
    fn writer_refuses_items_longer_than_the_length_field() {
        let mut buf = vec![0xAA];
        let mut w = Writer::new(&mut buf);
        let big = vec![0; 70_000];
        assert_eq!(w.tlv([0, 1], |w| w.bytes(&big)), Err(70_004));
        assert_eq!(buf, [0xAA]);
    }
}
