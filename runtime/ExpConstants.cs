namespace SoftmaxGen.Runtime;

/// <summary>
/// The one exp of each precision, as constants: every path (the CPU vectors of any width, the GPU kernels) computes
/// e^x the same way from these. x is reduced to x = k ln 2 + r with |r| ≤ ln 2 / 2 (k rounded to nearest by adding the
/// shifter, 1.5 · 2^mantissa bits, and taking it off again; ln 2 split in two so that k · ln 2 high is exact), e^r is the
/// polynomial 1 + r + c2 r² + … evaluated by Horner's rule, and the result is e^r · 2^k, exact. Below
/// <see cref="FloatNormalBound"/> (<see cref="DoubleNormalBound"/>) e^x is not a normal number, and the result is 0:
/// producing a subnormal costs x86 processors a microcode assist of 30–50 ns per instruction (measured on a Xeon with
/// AVX-512), which every masked element (−∞) would pay, while a softmax output that small (below 1.2e-38) is 0 to
/// within the tests' absolute bound anyway.
/// </summary>
internal static class ExpConstants
{
    /// <summary>1.5 · 2^23: adding it to a float below 2^22 in magnitude rounds it to an integer held in the low bits.</summary>
    public const float FloatShifter = 12582912f;

    public const float FloatLog2E = 1.44269504088896341f;

    public const float FloatLn2High = 0.693359375f;

    public const float FloatLn2Low = -2.12194440e-4f;

    /// <summary>From this on e^x is a normal float (e^-87.3 ≈ 1.219e-38 &gt; 2^-126); below it, and at −∞, exp gives 0.</summary>
    public const float FloatNormalBound = -87.3f;

    // e^r ≈ 1 + r + c2 r² + … + c6 r⁶ on |r| ≤ ln 2 / 2: coefficients fitted for the least maximum relative error
    // (3.1e-9, against float's 6e-8 unit roundoff).
    public const float FloatC2 = 0.49999994f;

    public const float FloatC3 = 0.16666521f;

    public const float FloatC4 = 0.041668389f;

    public const float FloatC5 = 0.0083687082f;

    public const float FloatC6 = 0.0013814593f;

    // 2^u ≈ 1 + c1 u + … + c7 u⁷ on |u| ≤ ½, cn = (ln 2)^n / n!: the portable 2^u of the approximate GPU exp
    // (GpuMath.FastExp with PortableExp2), which CUDA computes with ex2.approx instead (CudaExp2).
    public const float Exp2C1 = 0.693147181f;

    public const float Exp2C2 = 0.240226507f;

    public const float Exp2C3 = 0.0555041087f;

    public const float Exp2C4 = 0.00961812911f;

    public const float Exp2C5 = 0.00133335581f;

    public const float Exp2C6 = 0.000154035304f;

    public const float Exp2C7 = 0.0000152527338f;

    /// <summary>1.5 · 2^52.</summary>
    public const double DoubleShifter = 6755399441055744.0;

    public const double DoubleLog2E = 1.4426950408889634;

    public const double DoubleLn2High = 6.93147180369123816490e-01;

    public const double DoubleLn2Low = 1.90821492927058770002e-10;

    /// <summary>From this on e^x is a normal double (above 2^-1022); below it, and at −∞, exp gives 0.</summary>
    public const double DoubleNormalBound = -708.3;

    // e^r as its Taylor series to r^13: the first term left out is below 2^-57 for |r| ≤ ln 2 / 2.
    public const double DoubleC2 = 1.0 / 2.0;

    public const double DoubleC3 = 1.0 / 6.0;

    public const double DoubleC4 = 1.0 / 24.0;

    public const double DoubleC5 = 1.0 / 120.0;

    public const double DoubleC6 = 1.0 / 720.0;

    public const double DoubleC7 = 1.0 / 5040.0;

    public const double DoubleC8 = 1.0 / 40320.0;

    public const double DoubleC9 = 1.0 / 362880.0;

    public const double DoubleC10 = 1.0 / 3628800.0;

    public const double DoubleC11 = 1.0 / 39916800.0;

    public const double DoubleC12 = 1.0 / 479001600.0;

    public const double DoubleC13 = 1.0 / 6227020800.0;
}
