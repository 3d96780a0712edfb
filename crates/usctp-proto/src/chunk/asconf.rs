//! ASCONF (RFC 5061 §4.1.1) and ASCONF-ACK (§4.1.2), with the parameters
//! that only they carry.
//!
//! ```text
//!  ASCONF                                   ASCONF-ACK
//! +-----------+-------------+--------+      +-----------+-------------+--------+
//! | Type=0xC1 | Chunk Flags | Length |      | Type=0x80 | Chunk Flags | Length |
//! +-----------+-------------+--------+      +-----------+-------------+--------+
//! |         Sequence Number          |      |         Sequence Number          |
//! +----------------------------------+      +----------------------------------+
//! \         Address Parameter        \      \    ASCONF Parameter Response     \
//! +----------------------------------+      +----------------------------------+
//! \         ASCONF Parameter         \
//! +----------------------------------+
//! ```

use core::fmt;
use std::net::IpAddr;

use bytes::Bytes;

use super::Error;
use super::codec::{self, Joined, Reader, Writer};
use super::error_cause::ErrorCause;
use super::param::{self, Param};

/// Add IP Address, Delete IP Address and Set Primary Address (RFC 5061
/// §4.2.1, §4.2.2, §4.2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct AsconfParam {
    /// ASCONF-Request Correlation ID, echoed in the response.
    pub correlation_id: u32,
    /// The address concerned.
    pub address: IpAddr,
}

impl AsconfParam {
    pub(crate) fn parse(r: &mut Reader) -> Result<Self, Error> {
        Ok(Self {
            correlation_id: r.u32()?,
            address: param::parse_address(r)?,
        })
    }

    pub(crate) fn emit_value(&self, w: &mut Writer<'_>) {
        w.u32(self.correlation_id);
        param::emit_address(self.address, w);
    }
}

impl fmt::Display for AsconfParam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "correlation_id={}, address={}",
            self.correlation_id, self.address
        )
    }
}

/// Error Cause Indication (RFC 5061 §4.2.3): why request `correlation_id`
/// failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct CorrelatedCauses {
    /// ASCONF-Request Correlation ID.
    pub correlation_id: u32,
    /// The causes.
    pub causes: Vec<ErrorCause>,
}

impl CorrelatedCauses {
    pub(crate) fn parse(r: &mut Reader) -> Result<Self, Error> {
        Ok(Self {
            correlation_id: r.u32()?,
            causes: codec::parse_all(r)?,
        })
    }

    pub(crate) fn emit_value(&self, w: &mut Writer<'_>) {
        w.u32(self.correlation_id);
        codec::emit_all(&self.causes, w);
    }
}

impl fmt::Display for CorrelatedCauses {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "correlation_id={}, ", self.correlation_id)?;
        write!(f, "{}", Joined(&self.causes, ", "))
    }
}

/// An ASCONF chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Asconf {
    /// Sequence Number.
    pub serial: u32,
    /// An address of the sender, to find the association by.
    pub address: IpAddr,
    /// The requests, in order.
    pub params: Vec<Param>,
}

impl Asconf {
    pub(crate) fn parse(value: Bytes) -> Result<Self, Error> {
        let mut r = Reader::new(value, "ASCONF");
        Ok(Self {
            serial: r.u32()?,
            address: param::parse_address(&mut r)?,
            params: codec::parse_all(&mut r)?,
        })
    }

    pub(crate) fn emit_value(&self, w: &mut Writer<'_>) {
        w.u32(self.serial);
        param::emit_address(self.address, w);
        codec::emit_all(&self.params, w);
    }
}

impl fmt::Display for Asconf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "serial={}, address={}", self.serial, self.address)?;
        if !self.params.is_empty() {
            write!(f, ", {}", Joined(&self.params, ", "))?;
        }
        Ok(())
    }
}

/// An ASCONF-ACK chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct AsconfAck {
    /// The Sequence Number of the ASCONF acknowledged.
    pub serial: u32,
    /// Responses: Success Indication and Error Cause Indication.
    pub params: Vec<Param>,
}

impl AsconfAck {
    pub(crate) fn parse(value: Bytes) -> Result<Self, Error> {
        let mut r = Reader::new(value, "ASCONF_ACK");
        Ok(Self {
            serial: r.u32()?,
            params: codec::parse_all(&mut r)?,
        })
    }

    pub(crate) fn emit_value(&self, w: &mut Writer<'_>) {
        w.u32(self.serial);
        codec::emit_all(&self.params, w);
    }
}

impl fmt::Display for AsconfAck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "serial={}", self.serial)?;
        if !self.params.is_empty() {
            write!(f, ", {}", Joined(&self.params, ", "))?;
        }
        Ok(())
    }
}
