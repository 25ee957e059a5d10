//! Delta debugging (Zeller's ddmin) over a set of ids: the smallest subset found that still
//! fails, as both shrinkers cut the clients of a failing run.

/// Shrinks `ids` to a smallest subset `keep` accepts (`keep` runs the subset and says
/// whether it still fails the same way): each of n chunks alone, then each complement,
/// refining until single ids. `keep` is never asked about `ids` itself.
pub(crate) fn ddmin(mut ids: Vec<usize>, mut keep: impl FnMut(Vec<usize>) -> bool) -> Vec<usize> {
    let mut n = 2;
    while ids.len() >= 2 {
        let chunk = ids.len().div_ceil(n);
        let parts: Vec<Vec<usize>> = ids.chunks(chunk).map(<[usize]>::to_vec).collect();
        let mut reduced = false;
        for part in &parts {
            if keep(part.clone()) {
                ids = part.clone();
                n = 2;
                reduced = true;
                break;
            }
        }
        if !reduced && parts.len() > 2 {
            for i in 0..parts.len() {
                let rest: Vec<usize> = parts
                    .iter()
                    .enumerate()
                    .filter(|&(j, _)| j != i)
                    .flat_map(|(_, p)| p.iter().copied())
                    .collect();
                if keep(rest.clone()) {
                    ids = rest;
                    n = (n - 1).max(2);
                    reduced = true;
                    break;
                }
            }
        }
        if !reduced {
            if n >= ids.len() {
                break;
            }
            n = (n * 2).min(ids.len());
        }
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::ddmin;

    #[test]
    fn finds_the_one_id_a_failure_needs() {
        let mut asked = 0;
        let kept = ddmin((0..32).collect(), |ids| {
            asked += 1;
            ids.contains(&19)
        });
        assert_eq!(kept, vec![19]);
        assert!(asked < 32, "{asked} runs");
    }

    #[test]
    fn keeps_a_pair_that_fails_only_together() {
        let kept = ddmin((0..16).collect(), |ids| {
            ids.contains(&3) && ids.contains(&12)
        });
        assert_eq!(kept, vec![3, 12]);
    }
}
