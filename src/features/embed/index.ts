/** Track embeddings learnt from co-occurrence in listening windows (PPMI + randomized SVD), and their genre check. */
export { CooccurrenceCounts, cooccurrenceMatrix, ppmi, rowSums, frobenius2, type Csr, type Weighting } from "./cooccurrence";
export { randomizedSvd, orthonormalize, multiply, multiplyTransposed, type SvdOptions, type TruncatedSvd } from "./svd";
export { learnTrackEmbeddings, type TrackEmbeddingOptions, type TrackEmbeddings } from "./embeddings";
export { genreAgreement, type GenreAgreement, type GenreAgreementOptions } from "./agreement";
