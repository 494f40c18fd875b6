import { describe30Music } from "./30music";

describe30Music("30music-200ks_test.1.txt");
