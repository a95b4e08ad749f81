import type { StructuredToolInterface } from '@langchain/core/tools';
import { calculator } from './calculator.ts';
import { currentTime } from './current-time.ts';

/** The built-in tools, always offered to the model. */
export const BUILTIN_TOOLS: readonly StructuredToolInterface[] = [currentTime, calculator];
