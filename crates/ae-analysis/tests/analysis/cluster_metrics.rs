use ae_analysis::{adjusted_rand_index, clustering_accuracy, normalized_mutual_information};

use crate::common::assert_close;

#[test]
fn relabelled_perfect_clustering_scores_one() {
    let labels = [0, 0, 1, 1];
    let clusters = [1, 1, 0, 0];
    assert_eq!(clustering_accuracy(&labels, &clusters).unwrap(), 1.0);
    assert_close(
        normalized_mutual_information(&labels, &clusters).unwrap(),
        1.0,
        1e-12,
    );
    assert_close(adjusted_rand_index(&labels, &clusters).unwrap(), 1.0, 1e-12);
}

#[test]
fn split_cluster_hand_values() {
    // labels [0,0,1,1] vs clusters [0,0,1,2]; contingency {(0,0):2, (1,1):1, (1,2):1}.
    let labels = [0, 0, 1, 1];
    let clusters = [0, 0, 1, 2];
    // Best matching 0→0 (2 points) and 1→1 or 1→2 (1 point): 3/4.
    assert_close(
        clustering_accuracy(&labels, &clusters).unwrap(),
        0.75,
        1e-12,
    );
    // H(labels) = ln 2, H(clusters) = 1.5 ln 2, MI = ln 2 → NMI = 1 / 1.25 = 0.8.
    assert_close(
        normalized_mutual_information(&labels, &clusters).unwrap(),
        0.8,
        1e-12,
    );
    // index = C(2,2) = 1; Σa = 1 + 1 = 2; Σb = 1; C(4,2) = 6; expected = 2/6;
    // max = 1.5 → ARI = (1 - 1/3) / (1.5 - 1/3) = 4/7.
    assert_close(
        adjusted_rand_index(&labels, &clusters).unwrap(),
        4.0 / 7.0,
        1e-12,
    );
}

#[test]
fn second_hand_computed_ari() {
    // labels [0,0,0,1,1,1] vs clusters [0,0,1,1,2,2]:
    // contingency rows (2,1,0), (0,1,2) → index = 1 + 1 = 2;
    // Σa = 3 + 3 = 6, Σb = 1 + 1 + 1 = 3, C(6,2) = 15, expected = 18/15 = 1.2,
    // max = 4.5 → ARI = 0.8 / 3.3 = 8/33.
    let labels = [0, 0, 0, 1, 1, 1];
    let clusters = [0, 0, 1, 1, 2, 2];
    assert_close(
        adjusted_rand_index(&labels, &clusters).unwrap(),
        8.0 / 33.0,
        1e-12,
    );
    // Accuracy: 0→0 (2) and 1→2 (2): 4/6.
    assert_close(
        clustering_accuracy(&labels, &clusters).unwrap(),
        4.0 / 6.0,
        1e-12,
    );
}

#[test]
fn anti_correlated_pairs_give_negative_ari() {
    // Every same-label pair is split and vice versa:
    // labels [0,0,1,1] vs [0,1,0,1]: index 0, Σa = Σb = 2, expected 4/6, max 2.
    // ARI = (0 - 2/3) / (2 - 2/3) = -0.5.
    assert_close(
        adjusted_rand_index(&[0, 0, 1, 1], &[0, 1, 0, 1]).unwrap(),
        -0.5,
        1e-12,
    );
    assert_close(
        normalized_mutual_information(&[0, 0, 1, 1], &[0, 1, 0, 1]).unwrap(),
        0.0,
        1e-12,
    );
    assert_close(
        clustering_accuracy(&[0, 0, 1, 1], &[0, 1, 0, 1]).unwrap(),
        0.5,
        1e-12,
    );
}

#[test]
fn more_clusters_than_labels_and_degenerate_cases() {
    assert_close(
        clustering_accuracy(&[0, 0, 1, 1], &[0, 1, 2, 3]).unwrap(),
        0.5,
        1e-12,
    );
    assert_close(
        clustering_accuracy(&[5, 5, 9], &[0, 0, 0]).unwrap(),
        2.0 / 3.0,
        1e-12,
    );
    assert_eq!(
        normalized_mutual_information(&[3, 3, 3], &[1, 1, 1]).unwrap(),
        1.0
    );
    assert_eq!(
        normalized_mutual_information(&[0, 1, 2], &[0, 0, 0]).unwrap(),
        0.0
    );
    assert_eq!(adjusted_rand_index(&[0], &[4]).unwrap(), 1.0);
}

#[test]
fn errors_name_the_problem() {
    let err = clustering_accuracy(&[0, 1, 0, 1, 1], &[0, 1, 0, 1]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "labels and predictions differ in length: 5 vs 4"
    );
    assert!(normalized_mutual_information(&[], &[]).is_err());
    assert!(adjusted_rand_index(&[0], &[]).is_err());
}
