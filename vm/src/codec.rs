//! A tiny length-prefixed big-endian binary codec, used for the canonical block encoding (which
//! is hashed) and for stored records.

/// Appends fields to a byte buffer.
#[derive(Default)]
pub(crate) struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn u64(&mut self, value: u64) -> &mut Self {
        self.buf.extend_from_slice(&value.to_be_bytes());
        self
    }

    pub(crate) fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(bytes);
        self
    }

    /// Writes a `u64` length prefix followed by the bytes.
    pub(crate) fn bytes(&mut self, bytes: &[u8]) -> &mut Self {
        self.u64(bytes.len() as u64).raw(bytes)
    }

    pub(crate) fn str(&mut self, s: &str) -> &mut Self {
        self.bytes(s.as_bytes())
    }

    pub(crate) fn finish(self) -> Vec<u8> {
        self.buf
    }
}

/// Reads fields written by [`Writer`]; every read fails cleanly on truncated or corrupt input.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
}

/// Decoding failed: the stored bytes are corrupt.
#[derive(Debug)]
pub(crate) struct Corrupt;

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self { buf }
    }

    pub(crate) fn raw(&mut self, len: usize) -> Result<&'a [u8], Corrupt> {
        if self.buf.len() < len {
            return Err(Corrupt);
        }
        let (head, tail) = self.buf.split_at(len);
        self.buf = tail;
        Ok(head)
    }

    pub(crate) fn u64(&mut self) -> Result<u64, Corrupt> {
        let bytes = self.raw(8)?;
        let array: [u8; 8] = bytes.try_into().map_err(|_| Corrupt)?;
        Ok(u64::from_be_bytes(array))
    }

    pub(crate) fn bytes(&mut self) -> Result<&'a [u8], Corrupt> {
        let len = usize::try_from(self.u64()?).map_err(|_| Corrupt)?;
        self.raw(len)
    }

    pub(crate) fn string(&mut self) -> Result<String, Corrupt> {
        let bytes = self.bytes()?;
        String::from_utf8(bytes.to_vec()).map_err(|_| Corrupt)
    }

    /// A `u64` element count, sanity-checked against the remaining input so that corrupt data
    /// cannot trigger a huge allocation (every element takes at least `min_elem_size` bytes).
    pub(crate) fn count(&mut self, min_elem_size: usize) -> Result<usize, Corrupt> {
        let count = usize::try_from(self.u64()?).map_err(|_| Corrupt)?;
        if count.saturating_mul(min_elem_size.max(1)) > self.buf.len() {
            return Err(Corrupt);
        }
        Ok(count)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}
