//! A synthetic national catalogue file (医保目录) in the columns `yibao-import` reads
//! (docs/catalogue.md): the demo city's shipped list and the loader's benchmark. Items of
//! all three lists in their national code shapes, each with the 2024 list's version and
//! the 2025 list's (class or share changed for some), a provincial restriction for some,
//! and a withdrawn record now and then, as real files carry.

use std::fmt::Write as _;

use crate::rng::SplitMix64;

/// The header of a generated file.
pub const CATALOGUE_HEADER: &str =
    "hilist_code,hilist_name,list_type,chrgitm_lv,begndate,enddate,insu_admdvs,lmt_used_flag,selfpay_prop,hilist_pric_uplmt_amt,vali_flag";

const LETTERS: &[u8; 26] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const MEDICINE_NAMES: [&str; 8] = ["片", "胶囊", "注射液", "颗粒", "口服溶液", "缓释片", "软膏", "滴眼液"];
const SERVICE_NAMES: [&str; 6] = ["检查费", "治疗费", "手术费", "护理费", "检验费", "床位费"];
const CONSUMABLE_NAMES: [&str; 5] = ["导管", "缝合线", "支架", "敷料", "穿刺针"];

/// `items` items of the catalogue as CSV text (about two rows each), the same for the same
/// `seed`; provincial rows are for `province` (a 6-digit code ending in 0000).
#[must_use]
pub fn national_catalogue_csv(items: usize, seed: u64, province: &str) -> String {
    let mut rng = SplitMix64::new(seed);
    let mut out = String::with_capacity(items * 220);
    out.push_str(CATALOGUE_HEADER);
    out.push('\n');
    for index in 0..items {
        let letter = |rng: &mut SplitMix64| char::from(LETTERS[rng.below(26) as usize]);
        let (code, name, list_type, cap) = match rng.below(100) {
            0..55 => {
                let chinese = rng.below(3) == 0;
                let form = MEDICINE_NAMES[rng.below(MEDICINE_NAMES.len() as u64) as usize];
                if chinese {
                    let code = format!(
                        "Z{}{:02}{}{}{:04}{:010}",
                        letter(&mut rng),
                        rng.below(100),
                        letter(&mut rng),
                        letter(&mut rng),
                        rng.below(10_000),
                        index
                    );
                    (code, format!("中成药{index:06}{form}"), "101", None)
                } else {
                    let code = format!(
                        "X{}{:02}{}{}{}{:03}{}{:012}",
                        letter(&mut rng),
                        rng.below(100),
                        letter(&mut rng),
                        letter(&mut rng),
                        letter(&mut rng),
                        rng.below(1_000),
                        letter(&mut rng),
                        index
                    );
                    (code, format!("西药{index:06}{form}"), "101", None)
                }
            }
            55..85 => {
                let kind = SERVICE_NAMES[rng.below(SERVICE_NAMES.len() as u64) as usize];
                let cap = (rng.below(4) == 0).then(|| rng.range(500, 200_000));
                (format!("{:06}{:09}", rng.below(1_000_000), index), format!("医疗服务{index:06}{kind}"), "201", cap)
            }
            _ => {
                let kind = CONSUMABLE_NAMES[rng.below(CONSUMABLE_NAMES.len() as u64) as usize];
                let cap = (rng.below(2) == 0).then(|| rng.range(1_000, 5_000_000));
                (format!("C{:014}{:012}", rng.below(100_000_000_000_000), index), format!("医用耗材{index:06}{kind}"), "301", cap)
            }
        };
        let class_2024 = match rng.below(10) {
            0..5 => "01",
            5..9 => "02",
            _ => "03",
        };
        // The 2025 list moves one item in eight up to class A, as yearly lists do.
        let class_2025 = if class_2024 == "02" && rng.below(8) == 0 { "01" } else { class_2024 };
        let share =
            |class: &str, rng: &mut SplitMix64| if class == "02" { ["0.05", "0.1", "0.15", "0.2"][rng.below(4) as usize] } else { "" };
        let restricted = if rng.below(10) == 0 { "1" } else { "0" };
        let cap_text = cap.map_or_else(String::new, |fen| format!("{}.{:02}", fen / 100, fen % 100));
        let share_2024 = share(class_2024, &mut rng);
        let share_2025 = share(class_2025, &mut rng);
        let mut row = |class: &str, from: &str, until: &str, region: &str, share: &str, valid: &str| {
            let _ = writeln!(out, "{code},{name},{list_type},{class},{from},{until},{region},{restricted},{share},{cap_text},{valid}");
        };
        row(class_2024, "2024-01-01", "2024-12-31", "", share_2024, "1");
        row(class_2025, "2025-01-01", "", "", share_2025, "1");
        match rng.below(50) {
            // The province restricts the item to self-pay for the first half of 2025.
            0 | 1 => row("03", "2025-01-01", "2025-06-30", province, "", "1"),
            // A record withdrawn at the source: skipped by the loader.
            2 => row(class_2025, "2023-01-01", "2023-12-31", "", share(class_2025, &mut SplitMix64::new(seed ^ index as u64)), "0"),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_file() {
        let one = national_catalogue_csv(50, 7, "410000");
        assert_eq!(one, national_catalogue_csv(50, 7, "410000"));
        assert_ne!(one, national_catalogue_csv(50, 8, "410000"));
        let rows = one.lines().count() - 1;
        assert!((100..=150).contains(&rows), "{rows} rows for 50 items");
    }
}
