//! Multipart uploads: how a large file is cut into parts (S3's rules, the same on
//! both backends), and what a pending multipart upload records.
//!
//! S3 accepts at most 10,000 parts; every part but the last must be at least 5 MiB,
//! and no part may exceed 5 GiB; an object is at most 5 TiB. [`plan`] is the only
//! place these rules are applied.

use serde::{Deserialize, Serialize};

use crate::validate::ValidationError;

pub const MIB: u64 = 1024 * 1024;
/// The smallest part S3 accepts (except the last).
pub const MIN_PART_SIZE: u64 = 5 * MIB;
/// The largest part S3 accepts, and the largest single PUT.
pub const MAX_PART_SIZE: u64 = 5 * 1024 * MIB;
/// The most parts one upload may have.
pub const MAX_PARTS: u64 = 10_000;
/// The largest object S3 stores.
pub const MAX_OBJECT_SIZE: u64 = 5 * 1024 * 1024 * MIB;
/// The largest single PUT (S3's limit): larger files must be sent in parts.
pub const MAX_SINGLE_UPLOAD_SIZE: u64 = MAX_PART_SIZE;
/// From this size on, an upload is multipart unless the client asks otherwise.
pub const DEFAULT_MULTIPART_THRESHOLD: u64 = 64 * MIB;
/// The part size chosen when the client proposes none and the file allows it.
pub const DEFAULT_PART_SIZE: u64 = 16 * MIB;
/// The most part links signed in one request.
pub const MAX_PART_LINKS_PER_REQUEST: usize = 1000;

/// How the client wants to send the content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UploadMode {
    /// One signed PUT (at most 5 GiB).
    Single,
    /// Parts sent through their own signed links, then completed.
    Multipart,
}

/// How a file is cut into parts: every part but the last is `part_size` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartPlan {
    pub part_size: u64,
    pub part_count: u32,
}

impl PartPlan {
    /// The size of part `number` (1-based) of a `file_size`-byte file; `None` when
    /// the plan has no such part.
    pub fn part_len(&self, file_size: u64, number: u32) -> Option<u64> {
        if number == 0 || number > self.part_count {
            return None;
        }
        let offset = self.part_offset(number);
        Some(file_size.saturating_sub(offset).min(self.part_size))
    }

    /// Where part `number` (1-based) starts in the file.
    pub fn part_offset(&self, number: u32) -> u64 {
        u64::from(number.saturating_sub(1)).saturating_mul(self.part_size)
    }
}

/// The part size and count for a `file_size`-byte file: the client's `proposed`
/// size when it follows the rules (400 `invalid_part_size` when not), otherwise
/// [`DEFAULT_PART_SIZE`], grown in whole MiB just enough to stay within 10,000 parts.
pub fn plan(file_size: u64, proposed: Option<u64>) -> Result<PartPlan, ValidationError> {
    if file_size == 0 || file_size > MAX_OBJECT_SIZE {
        return Err(ValidationError::invalid(
            "invalid_file_size",
            format!("a multipart upload holds 1 to {MAX_OBJECT_SIZE} bytes"),
        ));
    }
    let part_size = match proposed {
        Some(size) => {
            let count = file_size.div_ceil(size.max(1));
            if !(MIN_PART_SIZE..=MAX_PART_SIZE).contains(&size) || count > MAX_PARTS {
                return Err(ValidationError::invalid(
                    "invalid_part_size",
                    format!(
                        "part_size must be between {MIN_PART_SIZE} and {MAX_PART_SIZE} bytes and cut file_size into at most {MAX_PARTS} parts (at least {} bytes for this file)",
                        file_size.div_ceil(MAX_PARTS).max(MIN_PART_SIZE)
                    ),
                ));
            }
            size
        }
        None => {
            let needed = file_size.div_ceil(MAX_PARTS).div_ceil(MIB) * MIB;
            needed.max(DEFAULT_PART_SIZE).min(MAX_PART_SIZE)
        }
    };
    let part_count = u32::try_from(file_size.div_ceil(part_size)).map_err(|_| {
        ValidationError::invalid("invalid_part_size", "too many parts for this file")
    })?;
    Ok(PartPlan {
        part_size,
        part_count,
    })
}

/// The part of a pending upload that is multipart: the store's upload id and the
/// plan. Absent in records of single-PUT uploads (and of releases before it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MultipartState {
    pub upload_id: String,
    pub part_size: u64,
    pub part_count: u32,
}

impl MultipartState {
    pub fn plan(&self) -> PartPlan {
        PartPlan {
            part_size: self.part_size,
            part_count: self.part_count,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn follows_s3_rules(file_size: u64, plan: PartPlan) {
        assert!(u64::from(plan.part_count) <= MAX_PARTS, "{plan:?}");
        assert!(plan.part_size <= MAX_PART_SIZE, "{plan:?}");
        let mut total = 0;
        for n in 1..=plan.part_count {
            let len = plan.part_len(file_size, n).unwrap();
            assert!(len > 0, "part {n} of {plan:?} is empty");
            if n < plan.part_count {
                assert_eq!(len, plan.part_size);
                assert!(len >= MIN_PART_SIZE);
            }
            total += len;
        }
        assert_eq!(total, file_size, "{plan:?}");
    }

    #[test]
    fn the_default_plan_follows_the_rules_at_every_scale() {
        for size in [
            1,
            MIN_PART_SIZE - 1,
            MIN_PART_SIZE,
            DEFAULT_MULTIPART_THRESHOLD,
            3 * MIN_PART_SIZE + 1,
            100 * 1024 * MIB,
            DEFAULT_PART_SIZE * MAX_PARTS,
            DEFAULT_PART_SIZE * MAX_PARTS + 1,
            1024 * 1024 * MIB,
            MAX_OBJECT_SIZE,
        ] {
            let plan = plan(size, None).unwrap();
            follows_s3_rules(size, plan);
        }
    }

    #[test]
    fn five_tib_fits_in_ten_thousand_parts() {
        let plan = plan(MAX_OBJECT_SIZE, None).unwrap();
        assert!(u64::from(plan.part_count) <= MAX_PARTS);
        assert_eq!(plan.part_size % MIB, 0);
        assert_eq!(plan.part_size, 525 * MIB);
        assert_eq!(plan.part_count, 9_987);
        assert!(
            plan.part_len(MAX_OBJECT_SIZE, plan.part_count + 1)
                .is_none()
        );
    }

    #[test]
    fn a_proposal_within_the_rules_is_honoured() {
        let plan = plan(15 * MIB, Some(5 * MIB)).unwrap();
        assert_eq!(
            plan,
            PartPlan {
                part_size: 5 * MIB,
                part_count: 3
            }
        );
        let plan = super::plan(15 * MIB + 1, Some(5 * MIB)).unwrap();
        assert_eq!(plan.part_count, 4);
        assert_eq!(plan.part_len(15 * MIB + 1, 4), Some(1));
        follows_s3_rules(15 * MIB + 1, plan);
    }

    #[test]
    fn proposals_against_the_rules_are_refused() {
        for (size, proposed) in [
            (100 * MIB, MIN_PART_SIZE - 1),
            (100 * MIB, MAX_PART_SIZE + 1),
            (100 * MIB, 0),
            (MAX_OBJECT_SIZE, MIN_PART_SIZE), // over 10,000 parts
        ] {
            let error = plan(size, Some(proposed)).unwrap_err();
            assert_eq!(error.code, "invalid_part_size", "{size} / {proposed}");
        }
        assert_eq!(
            plan(MAX_OBJECT_SIZE + 1, None).unwrap_err().code,
            "invalid_file_size"
        );
        assert_eq!(plan(0, None).unwrap_err().code, "invalid_file_size");
    }

    #[test]
    fn part_numbers_outside_the_plan_have_no_length() {
        let plan = plan(20 * MIB, Some(8 * MIB)).unwrap();
        assert_eq!(plan.part_count, 3);
        assert_eq!(plan.part_len(20 * MIB, 0), None);
        assert_eq!(plan.part_len(20 * MIB, 3), Some(4 * MIB));
        assert_eq!(plan.part_len(20 * MIB, 4), None);
        assert_eq!(plan.part_offset(3), 16 * MIB);
    }
}
