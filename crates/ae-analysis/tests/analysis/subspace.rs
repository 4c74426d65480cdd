use ae_analysis::{Matrix, orthonormal_basis, principal_angles_degrees};

use crate::common::{assert_close, max_abs_diff, naive_matmul, random_matrix};

fn from_columns(cols: &[Vec<f64>]) -> Matrix {
    Matrix::from_fn(cols[0].len(), cols.len(), |i, j| cols[j][i])
}

fn unit(d: usize, i: usize) -> Vec<f64> {
    let mut v = vec![0.0; d];
    v[i] = 1.0;
    v
}

#[test]
fn basis_is_orthonormal_and_spans_the_input() {
    let a = random_matrix(10, 4, 21);
    let q = orthonormal_basis(&a);
    assert_eq!(q.shape(), (10, 4));
    let qtq = naive_matmul(&q.transpose(), &q);
    assert!(max_abs_diff(&qtq, &Matrix::identity(4)) < 1e-13);
    // Projecting A onto span(Q) leaves it unchanged.
    let proj = naive_matmul(&q, &naive_matmul(&q.transpose(), &a));
    assert!(max_abs_diff(&proj, &a) < 1e-12);
}

#[test]
fn dependent_and_zero_columns_are_dropped() {
    let c0 = vec![1.0, 2.0, 0.0];
    let c1 = vec![2.0, 4.0, 0.0]; // 2 * c0
    let c2 = vec![0.0, 0.0, 0.0];
    let c3 = vec![0.0, 1.0, 1.0];
    let q = orthonormal_basis(&from_columns(&[c0, c1, c2, c3]));
    assert_eq!(q.cols(), 2);
    assert_eq!(orthonormal_basis(&Matrix::zeros(3, 2)).cols(), 0);
}

#[test]
fn identical_subspaces_have_zero_angles() {
    let a = random_matrix(12, 3, 5);
    // Same span, different basis: a times an invertible mixing matrix.
    let mix = Matrix::from_rows(&[[1.0, 2.0, 0.0], [0.0, 1.0, -1.0], [3.0, 0.0, 1.0]]).unwrap();
    let b = naive_matmul(&a, &mix);
    for angles in [
        principal_angles_degrees(&a, &a).unwrap(),
        principal_angles_degrees(&a, &b).unwrap(),
    ] {
        assert_eq!(angles.len(), 3);
        for x in angles {
            assert_close(x, 0.0, 1e-5);
        }
    }
}

#[test]
fn orthogonal_subspaces_are_at_ninety_degrees() {
    let a = from_columns(&[unit(4, 0), unit(4, 1)]);
    let b = from_columns(&[unit(4, 2), unit(4, 3)]);
    let angles = principal_angles_degrees(&a, &b).unwrap();
    assert_eq!(angles.len(), 2);
    for x in angles {
        assert_close(x, 90.0, 1e-10);
    }
}

#[test]
fn rotation_by_thirty_degrees() {
    let (s, c) = 30f64.to_radians().sin_cos();
    let a = from_columns(&[unit(3, 0), unit(3, 1)]);
    let b = from_columns(&[unit(3, 0), vec![0.0, c, s]]);
    let angles = principal_angles_degrees(&a, &b).unwrap();
    assert_close(angles[0], 0.0, 1e-5);
    assert_close(angles[1], 30.0, 1e-9);
}

#[test]
fn two_distinct_angles_in_ascending_order() {
    // span{e1, e2} vs span{cos60 e2 + sin60 e4, cos30 e1 + sin30 e3} → 30°, 60°.
    let (s30, c30) = 30f64.to_radians().sin_cos();
    let (s60, c60) = 60f64.to_radians().sin_cos();
    let a = from_columns(&[unit(5, 0), unit(5, 1)]);
    let b = from_columns(&[vec![0.0, c60, 0.0, s60, 0.0], vec![c30, 0.0, s30, 0.0, 0.0]]);
    let angles = principal_angles_degrees(&a, &b).unwrap();
    assert_close(angles[0], 30.0, 1e-9);
    assert_close(angles[1], 60.0, 1e-9);
    // Different dimensions: a line inside the plane → one angle of 0°.
    let line = from_columns(&[vec![1.0, 1.0, 0.0, 0.0, 0.0]]);
    let one = principal_angles_degrees(&a, &line).unwrap();
    assert_eq!(one.len(), 1);
    assert_close(one[0], 0.0, 1e-5);
    assert!(principal_angles_degrees(&a, &Matrix::zeros(4, 1)).is_err());
}
