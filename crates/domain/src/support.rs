//! The support service (Order 270 §14): what a request is about, and what may be attached to it.

/// A request's category: the order names work, technical and training questions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    Work,
    Technical,
    Training,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Work => "work",
            Category::Technical => "technical",
            Category::Training => "training",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Work, Self::Technical, Self::Training]
            .into_iter()
            .find(|c| c.as_str() == s)
    }
}

/// An attachment is at most this large (issue 16).
pub const MAX_ATTACHMENT_BYTES: usize = 10 * 1024 * 1024;

/// A subject's and a message's length, in characters.
pub const MAX_SUBJECT_CHARS: usize = 200;
pub const MAX_MESSAGE_CHARS: usize = 10_000;

/// The kinds of file a request may carry, told by their content, never by a name or a declared type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachmentKind {
    Pdf,
    Png,
    Jpeg,
}

impl AttachmentKind {
    /// The kind of `bytes` by their signature: `%PDF-` (ISO 32000-1 §7.5.2), the PNG signature
    /// (RFC 2083 §3.1), JPEG's SOI marker followed by another marker (ITU T.81 B.1.1.3).
    pub fn sniff(bytes: &[u8]) -> Option<Self> {
        if bytes.starts_with(b"%PDF-") {
            Some(AttachmentKind::Pdf)
        } else if bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
            Some(AttachmentKind::Png)
        } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(AttachmentKind::Jpeg)
        } else {
            None
        }
    }
    pub fn content_type(self) -> &'static str {
        match self {
            AttachmentKind::Pdf => "application/pdf",
            AttachmentKind::Png => "image/png",
            AttachmentKind::Jpeg => "image/jpeg",
        }
    }
    pub fn extension(self) -> &'static str {
        match self {
            AttachmentKind::Pdf => "pdf",
            AttachmentKind::Png => "png",
            AttachmentKind::Jpeg => "jpg",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_three_kinds_are_told_by_content() {
        assert_eq!(
            AttachmentKind::sniff(b"%PDF-1.7\n"),
            Some(AttachmentKind::Pdf)
        );
        assert_eq!(
            AttachmentKind::sniff(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0]),
            Some(AttachmentKind::Png)
        );
        assert_eq!(
            AttachmentKind::sniff(&[0xFF, 0xD8, 0xFF, 0xE0]),
            Some(AttachmentKind::Jpeg)
        );
        // A name or a declared type is not content: an HTML page, an executable, a truncated PNG.
        for other in [
            &b"<html>"[..],
            b"MZ\x90\x00",
            &[0x89, b'P', b'N', b'G'],
            b"",
            b"PDF-1.7",
        ] {
            assert_eq!(AttachmentKind::sniff(other), None, "{other:?}");
        }
        assert_eq!(Category::parse("training"), Some(Category::Training));
        assert_eq!(Category::parse("billing"), None);
    }

    proptest! {
        // Whatever follows a signature, the kind is the signature's; bytes without one are refused.
        #[test]
        fn sniffing_reads_only_the_signature(tail in proptest::collection::vec(any::<u8>(), 0..64)) {
            let pdf = [b"%PDF-".as_slice(), &tail].concat();
            prop_assert_eq!(AttachmentKind::sniff(&pdf), Some(AttachmentKind::Pdf));
            let plain = [b"x".as_slice(), &tail].concat();
            prop_assert_eq!(AttachmentKind::sniff(&plain), None);
        }
    }
}
