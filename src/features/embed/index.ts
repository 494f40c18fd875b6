/** Track embeddings learnt from co-occurrence in listening windows (PPMI + randomized SVD), and their genre and artist checks. */
export { CooccurrenceCounts, cooccurrenceMatrix, ppmi, rowSums, frobenius2, type Csr, type Weighting } from "./cooccurrence";
export { randomizedSvd, orthonormalize, multiply, multiplyTransposed, type SvdOptions, type TruncatedSvd } from "./svd";
export { learnTrackEmbeddings, type TrackEmbeddingOptions, type TrackEmbeddings, type TracksWithoutVector } from "./embeddings";
export { sessionStarts, SESSION_GAP_MINUTES } from "./sessions";
export { neighbourAgreement, type NeighbourAgreement, type NeighbourAgreementOptions } from "./agreement";
